package ginsession

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// The checks of single Options fields that NewManager runs: each refuses a
// value that can only be a mistake, so it fails at startup with the field's
// name instead of on every request.

// checkServer accepts one memcached address: "host:port", or the path of a
// Unix socket (any address with a slash, as gomemcache reads it). Lists in one string, missing ports and blanks are
// refused here rather than failing every request later.
func checkServer(addr string) error {
	if strings.TrimSpace(addr) == "" {
		return errors.New("is empty")
	}
	if strings.Contains(addr, "/") { // a Unix socket path, as gomemcache reads it
		return nil
	}
	if strings.ContainsAny(addr, ", \t") {
		return errors.New("one host:port per entry (list several servers as separate entries)")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return errors.New("want host:port, such as 127.0.0.1:11211")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("the port must be a number from 1 to 65535")
	}
	return nil
}

// checkLoginURL accepts a local path ("/login") or an absolute http(s)
// URL with a host; absolute tells which. Anything else (javascript:,
// "//host", a relative path) can only be a mistake or an open redirect.
func checkLoginURL(raw string) (absolute bool, err error) {
	if strings.Contains(raw, "#") {
		return false, errors.New("must not have a fragment: next would land inside it")
	}
	if isLocalPath(raw) {
		return false, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		strings.ContainsAny(raw, "\\ \t\r\n") {
		return false, errors.New("must be a local path such as /login or an absolute http(s) URL")
	}
	return true, nil
}

// isHTTPBase reports whether u is an absolute http(s) URL with a host and
// no user info, query or fragment.
func isHTTPBase(u *url.URL) bool {
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil &&
		u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery
}

// validDomain reports whether d looks like a domain name for a cookie's
// Domain attribute: dot-separated labels of letters, digits and hyphens.
func validDomain(d string) bool {
	d = strings.TrimPrefix(d, ".")
	if d == "" || len(d) > 253 {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	for i := 0; i < len(name); i++ {
		b := name[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return name != ""
}
