package metrics

import (
	"fmt"
	"testing"
)

func TestCatKeepsArgumentsWithTheirPlaceholders(t *testing.T) {
	sub := frag("(SELECT * FROM t WHERE a = ?)", 1)
	got := cat("SELECT x FROM ", sub, " UNION ALL SELECT y FROM ", sub, frag(" WHERE b = ? AND c = ?", 2, 3))
	if got.text != "SELECT x FROM (SELECT * FROM t WHERE a = ?) UNION ALL SELECT y FROM (SELECT * FROM t WHERE a = ?) WHERE b = ? AND c = ?" ||
		fmt.Sprint(got.args) != "[1 1 2 3]" {
		t.Fatalf("cat = %q %v", got.text, got.args)
	}
	for name, bad := range map[string]func(){
		"a placeholder in plain SQL":     func() { cat("a = ?") },
		"more placeholders than args":    func() { cat(frag("a = ? AND b = ?", 1)) },
		"something that is not SQL text": func() { cat(42) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			bad()
		}()
	}
}
