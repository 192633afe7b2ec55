package ginsession

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

type cartItem struct {
	SKU string `json:"sku"`
	Qty uint8  `json:"qty"`
}

// GetAs reads what a gin-contrib/sessions port expects: an int stored as
// an int comes back as an int, structs and slices as themselves; missing
// keys, wrong types and integers out of range are errors naming the key.
func TestGetAs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/set", func(c *gin.Context) {
			s := Default(c)
			s.Set("count", 41)
			s.Set("big", 1000)
			s.Set("huge", uint64(math.MaxUint64))
			s.Set("name", "alice")
			s.Set("cart", []cartItem{{"a-1", 2}, {"b-2", 1}})
			s.Set("loose", map[string]any{"sku": "c-3", "qty": 300})
		})
		check := func(err error, want error, wantText ...string) {
			t.Helper()
			if !errors.Is(err, want) {
				t.Errorf("error %v, want %v", err, want)
				return
			}
			for _, w := range wantText {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not mention %q", err, w)
				}
			}
		}
		a.engine.GET("/get", func(c *gin.Context) {
			s := Default(c)
			n, err := GetAs[int](s, "count")
			if err != nil || n != 41 {
				t.Errorf("GetAs[int](count) = %d, %v", n, err)
			}
			if name, err := GetAs[string](s, "name"); err != nil || name != "alice" {
				t.Errorf("GetAs[string](name) = %q, %v", name, err)
			}
			cart, err := GetAs[[]cartItem](s, "cart")
			if err != nil || len(cart) != 2 || cart[1] != (cartItem{"b-2", 1}) {
				t.Errorf("GetAs[[]cartItem] = %v, %v", cart, err)
			}
			if u, err := GetAs[uint64](s, "huge"); err != nil || u != math.MaxUint64 {
				t.Errorf("GetAs[uint64](huge) = %d, %v", u, err)
			}
			_, err = GetAs[int](s, "missing")
			check(err, ErrKeyNotFound, `"missing"`)
			_, err = GetAs[int](s, "name")
			check(err, ErrTypeMismatch, `"name"`, "a string", "int")
			_, err = GetAs[uint8](s, "big")
			check(err, ErrTypeMismatch, `"big"`, "1000", "uint8")
			_, err = GetAs[int64](s, "huge")
			check(err, ErrTypeMismatch, `"huge"`)
			_, err = GetAs[int8](s, "count")
			check(err, nil)
			var small uint8
			check(s.Scan("big", &small), ErrTypeMismatch, `"big"`)
			_, err = GetAs[cartItem](s, "loose") // qty 300 in a uint8 field
			check(err, ErrTypeMismatch, "qty", "300")
		})
		a.get("/set")
		a.get("/get")
	})
}

// The overflow check walks the value read into, so it sees through
// omitempty, embedded structs, pointers and maps, and refuses nothing that
// fits (extra stored keys, zero fields, times, floats).
func TestGetAsOverflowThroughEveryShape(t *testing.T) {
	type Inner struct {
		Small int8 `json:"small"`
	}
	type Omit struct {
		N uint8 `msgpack:"n,omitempty"`
	}
	type Embedding struct {
		Inner
		Name string `json:"name"`
	}
	type Pointers struct {
		P *uint8          `json:"p"`
		M map[string]int8 `json:"m"`
		L []Inner         `json:"l"`
	}
	type Fits struct {
		N     uint8     `json:"n,omitempty"`
		When  time.Time `json:"when"`
		Price float64   `json:"price"`
		Zero  int       `json:"zero,omitempty"`
	}
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/", func(c *gin.Context) {
		s := Default(c)
		s.Set("omit", map[string]any{"n": 256})
		s.Set("embedded", map[string]any{"small": 200, "name": "x"})
		s.Set("pointer", map[string]any{"p": 300})
		s.Set("map", map[string]any{"m": map[string]any{"a": 1, "b": -129}})
		s.Set("list", map[string]any{"l": []any{map[string]any{"small": 1}, map[string]any{"small": 128}}})
		s.Set("negative", -1)
		s.Set("fits", map[string]any{"n": 255, "when": time.Unix(1_700_000_000, 0), "price": 1.5, "zero": 0, "extra": 1 << 40})

		for key, read := range map[string]func() error{
			"omit":     func() error { _, err := GetAs[Omit](s, "omit"); return err },
			"embedded": func() error { _, err := GetAs[Embedding](s, "embedded"); return err },
			"pointer":  func() error { _, err := GetAs[Pointers](s, "pointer"); return err },
			"map":      func() error { _, err := GetAs[Pointers](s, "map"); return err },
			"list":     func() error { _, err := GetAs[Pointers](s, "list"); return err },
			"negative": func() error { _, err := GetAs[uint](s, "negative"); return err },
		} {
			if err := read(); !errors.Is(err, ErrTypeMismatch) || !strings.Contains(err.Error(), `"`+key+`"`) {
				t.Errorf("%s: error %v, want ErrTypeMismatch naming the key", key, err)
			}
		}
		fits, err := GetAs[Fits](s, "fits")
		if err != nil || fits.N != 255 || fits.Price != 1.5 || fits.When.Unix() != 1_700_000_000 {
			t.Errorf("a value that fits: %+v, %v", fits, err)
		}
	})
	a.get("/")
}
