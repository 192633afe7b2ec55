package ginsession

import (
	"net/http"
	"strings"
)

// privateCache keeps a response that sets or expires the session cookie out
// of shared caches, which could hand one visitor's cookie to many: no-store
// unless the handler chose a policy, and then without public or s-maxage
// and with a bare private (a qualified private="field" is rewritten). A policy that already is so is left as the handler
// wrote it, so the hook's second look (after writeCookie's) rewrites
// nothing.
func (s *Session) privateCache(h http.Header) {
	policy := h.Values("Cache-Control")
	if len(policy) == 0 {
		h.Set("Cache-Control", "no-store")
		return
	}
	var space [8]string
	kept := space[:0]
	private, dropped := false, false
	for _, line := range policy {
		inQuote := false // inside a dropped directive's quoted field list
		for d := range strings.SplitSeq(line, ",") {
			if inQuote {
				inQuote = strings.Count(d, `"`)%2 == 0
				continue
			}
			d = strings.TrimSpace(d)
			name, arg, qualified := strings.Cut(d, "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "", "public", "s-maxage":
				dropped = true
				inQuote = strings.Count(arg, `"`)%2 == 1
				continue
			case "private":
				if qualified {
					// private="X-Foo" lets a shared cache store everything
					// but the named fields, the cookie included: rewritten
					// as a bare private.
					dropped = true
					inQuote = strings.Count(arg, `"`)%2 == 1
					continue
				}
				private = true
			case "no-store":
				private = true
			}
			kept = append(kept, d)
		}
	}
	if private && !dropped {
		return
	}
	if !private {
		kept = append(kept, "private")
	}
	h.Set("Cache-Control", strings.Join(kept, ", "))
}
