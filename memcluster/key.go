package memcluster

// maxKeyLength is memcached's limit on the length of a key, in bytes.
const maxKeyLength = 250

// ValidKey reports whether key follows memcached's key rules: 1 to 250
// bytes, none of them a space or a control character (bytes 0x00-0x20 and
// 0x7f). Bytes 0x80 and above are allowed. Every Client method answers
// memcache.ErrMalformedKey for other keys without contacting a server.
// Unlike gomemcache's own check, an empty key is invalid too (memcached
// answers it with a protocol error).
func ValidKey(key string) bool {
	if key == "" || len(key) > maxKeyLength {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return false
		}
	}
	return true
}
