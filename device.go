package ginsession

import "strings"

// A user's session list (Options.TrackSessions) names each session's
// device by its browser and operating system, read from the User-Agent of
// its Login. The header is the client's word, so the description comes
// from a fixed vocabulary: whatever a client sends, the stored and
// displayed text is one of the names below, never its bytes.

// maxUserAgentScan is how much of a User-Agent is examined: real ones are
// a few hundred bytes, and the tokens that name a browser come early.
const maxUserAgentScan = 512

// uaToken maps a User-Agent substring to the name it stands for. Order
// matters: the first match wins, so a browser built on another one (Edge
// and Opera on Chrome, Chrome on Safari) comes before it.
type uaToken struct{ token, name string }

var browserTokens = [...]uaToken{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edge/", "Edge"},
	{"OPR/", "Opera"}, {"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"HeadlessChrome/", "Headless Chrome"},
	{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Chromium/", "Chromium"},
	{"Safari/", "Safari"},
	{"curl/", "curl"}, {"Wget/", "Wget"},
	{"Go-http-client/", "Go HTTP client"}, {"python-requests/", "Python requests"},
}

var systemTokens = [...]uaToken{
	{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"iPod", "iOS"},
	{"Android", "Android"},
	{"Windows", "Windows"},
	{"CrOS", "ChromeOS"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"Linux", "Linux"}, {"FreeBSD", "FreeBSD"},
}

// unknownDevice describes a client whose User-Agent names no known browser.
const unknownDevice = "Unknown browser"

// describeDevice returns "<browser> on <system>" for a User-Agent, such as
// "Firefox on Linux", the browser alone when the system is unknown, or
// "Unknown browser".
func describeDevice(userAgent string) string {
	ua := userAgent[:min(len(userAgent), maxUserAgentScan)]
	browser := firstToken(ua, browserTokens[:])
	system := firstToken(ua, systemTokens[:])
	switch {
	case browser == "" && system == "":
		return unknownDevice
	case browser == "":
		return unknownDevice + " on " + system
	case system == "":
		return browser
	}
	return browser + " on " + system
}

// firstToken returns the name of the first token found in ua, or "".
func firstToken(ua string, tokens []uaToken) string {
	for _, t := range tokens {
		if strings.Contains(ua, t.token) {
			return t.name
		}
	}
	return ""
}
