package setting

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "none": 0, "15m": 15 * time.Minute, "1h30m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"2", "0.25", "-1m", "soon"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	entries, err := DecodeJSON([]byte(`{"b": [["x","y"]], "a": ["x", "y"], "c": 5, "d": true, "e": "15m", "f": null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ key, text string }{{"a", "x,y"}, {"b", `[["x","y"]]`}, {"c", "5"}, {"d", "true"}, {"e", "15m"}, {"f", ""}}
	if len(entries) != len(want) {
		t.Fatalf("DecodeJSON: %d entries, want %d", len(entries), len(want))
	}
	for i, e := range entries {
		got, err := e.Text()
		if e.Key != want[i].key || got != want[i].text || (err != nil) != (e.Key == "f") {
			t.Errorf("entry %d: %s = %q, %v; want %s = %q", i, e.Key, got, err, want[i].key, want[i].text)
		}
	}
	if _, err := DecodeJSON([]byte(`[1]`)); err == nil {
		t.Error("DecodeJSON accepted a list")
	}
}
