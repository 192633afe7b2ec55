package clientcontract

import (
	"strings"
	"testing"
)

// Skip names a case of the table; a name the table lacks (a renamed case)
// is an error rather than a silent no-op.
func TestSkip(t *testing.T) {
	skips, err := skipsOf([]Option{Skip("NegativeExpiration", "why")})
	if err != nil || len(skips) != 1 || skips["NegativeExpiration"] != "why" {
		t.Errorf("Skip of a case in the table: %v, %v", skips, err)
	}
	if skips, err := skipsOf(nil); err != nil || len(skips) != 0 {
		t.Errorf("no options: %v, %v", skips, err)
	}
	_, err = skipsOf([]Option{Skip("NegativeExpiration", "why"), Skip("NegativeExpirations", "typo")})
	if err == nil || !strings.Contains(err.Error(), `"NegativeExpirations"`) {
		t.Errorf("Skip of a name not in the table: error %v, want one naming it", err)
	}
}
