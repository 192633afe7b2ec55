package ginsession

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestTooLarge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{MaxSize: 1000})
		var saveErr error
		a.engine.GET("/small", func(c *gin.Context) { Default(c).Set("k", "small") })
		a.engine.GET("/big", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", strings.Repeat("x", 2000))
			saveErr = s.Save()
			c.String(http.StatusOK, "handled") // the handler answers the error itself
		})
		a.engine.GET("/big-auto", func(c *gin.Context) { Default(c).Set("k", strings.Repeat("x", 2000)) })
		a.get("/small")
		rec := a.get("/big")
		if !errors.Is(saveErr, ErrTooLarge) {
			t.Fatalf("Save = %v, want ErrTooLarge", saveErr)
		}
		if rec.Code != http.StatusOK {
			t.Errorf("a Save error handled by the handler must not replace its response: %d", rec.Code)
		}
		if got := a.storedRecord().value("k"); string(got) != "\xa5small" {
			t.Errorf("stored session changed: %q", got)
		}
		rec = a.get("/big-auto")
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Retry-After") != "" {
			t.Errorf("automatic commit of an oversized session: status %d, Retry-After %q; want the default ErrorHandler's 500 (a retry cannot help)", rec.Code, rec.Header().Get("Retry-After"))
		}
		if got := a.storedRecord().value("k"); string(got) != "\xa5small" {
			t.Errorf("stored session changed: %q", got)
		}
	})
}

// TestMaxSizeBoundary: a session whose encoded record is exactly MaxSize
// bytes is stored; one byte more and Save returns ErrTooLarge, leaving the
// stored bytes as they were. The record overhead (header, key, string
// header, flash list) is measured from what the store holds for a smaller
// value of the same string class, so the boundary is hit exactly.
func TestMaxSizeBoundary(t *testing.T) {
	const maxSize = 1000
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{MaxSize: maxSize})
		var size int // length of the value the next request stores
		var saveErr error
		a.engine.GET("/set", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", strings.Repeat("x", size))
			saveErr = s.Save()
			c.String(http.StatusOK, "done")
		})
		stored := func() []byte {
			t.Helper()
			id, _, ok := a.m.cookies.decode(a.cookie)
			if !ok {
				t.Fatalf("jar holds no valid cookie (%q)", a.cookie)
			}
			item, err := a.store.Client.Get(a.m.key(id))
			if err != nil {
				t.Fatalf("get stored session: %v", err)
			}
			return item.Value
		}
		set := func(n int) (status int) {
			t.Helper()
			size, saveErr = n, nil
			return a.get("/set").Code
		}

		// 300 and the boundary length both take a str16 header.
		const probe = 300
		if set(probe); saveErr != nil {
			t.Fatalf("Save of a %d-byte value: %v", probe, saveErr)
		}
		overhead := len(stored()) - probe
		exact := maxSize - overhead
		if exact <= 0xff || exact >= 0xffff {
			t.Fatalf("boundary value length %d leaves the str16 class; pick another MaxSize", exact)
		}

		status := set(exact)
		if saveErr != nil {
			t.Fatalf("Save of a record of exactly MaxSize (%d) bytes: %v", maxSize, saveErr)
		}
		if status != http.StatusOK {
			t.Errorf("exactly MaxSize: status %d", status)
		}
		atLimit := stored()
		if len(atLimit) != maxSize {
			t.Fatalf("stored record is %d bytes, want exactly MaxSize %d", len(atLimit), maxSize)
		}
		r, err := decodeRecord(atLimit)
		if err != nil {
			t.Fatalf("stored record: %v", err)
		}
		if v := r.value("k"); len(v) != 3+exact {
			t.Fatalf("stored value is %d bytes, want %d", len(v), 3+exact)
		}

		status = set(exact + 1)
		if !errors.Is(saveErr, ErrTooLarge) {
			t.Fatalf("Save of a record of MaxSize+1 bytes = %v, want ErrTooLarge", saveErr)
		}
		if status != http.StatusOK {
			t.Errorf("a Save error handled by the handler must not replace its response: %d", status)
		}
		if after := stored(); string(after) != string(atLimit) {
			t.Errorf("the refused save changed the stored record (%d bytes, was %d)", len(after), len(atLimit))
		}
	})
}
