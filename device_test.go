package ginsession

import (
	"slices"
	"strings"
	"testing"
)

func TestDescribeDevice(t *testing.T) {
	for ua, want := range map[string]string{
		uaFirefoxLinux:  "Firefox on Linux",
		uaChromeWindows: "Chrome on Windows",
		uaSafariIPhone:  "Safari on iOS",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15":                      "Safari on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":              "Edge on Windows",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                      "Chrome on Android",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36":                              "Headless Chrome on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0":              "Opera on Windows",
		"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36": "Samsung Internet on Android",
		"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1":              "Chrome on iPadOS",
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36":                             "Chrome on ChromeOS",
		"curl/8.5.0":                         "curl",
		"Go-http-client/1.1":                 "Go HTTP client",
		"":                                   "Unknown browser",
		"<script>alert(1)</script>":          "Unknown browser",
		"Mozilla/5.0 (X11; Linux x86_64)":    "Unknown browser on Linux",
		strings.Repeat("x", 600) + "Chrome/": "Unknown browser", // past the part that is examined
	} {
		if got := describeDevice(ua); got != want {
			t.Errorf("describeDevice(%.60q) = %q, want %q", ua, got, want)
		}
	}
}

// deviceVocabulary is every text describeDevice can return.
func deviceVocabulary() []string {
	browsers := []string{unknownDevice}
	for _, t := range browserTokens {
		browsers = append(browsers, t.name)
	}
	var all []string
	for _, b := range browsers {
		all = append(all, b)
		for _, s := range systemTokens {
			all = append(all, b+" on "+s.name)
		}
	}
	return all
}

func FuzzDescribeDevice(f *testing.F) {
	f.Add(uaFirefoxLinux)
	f.Add(uaSafariIPhone)
	f.Add("\xff\x00Edg/")
	vocabulary := deviceVocabulary()
	f.Fuzz(func(t *testing.T, ua string) {
		got := describeDevice(ua)
		if !slices.Contains(vocabulary, got) || len(got) > maxDeviceLen {
			t.Fatalf("describeDevice(%q) = %q: not from the fixed vocabulary, or too long", ua, got)
		}
	})
}
