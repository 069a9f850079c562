package collector

import (
	"encoding/json"
	"strings"
	"testing"
)

// Data Center pages on startAt and total: a total that keeps growing
// (Jira paging without end) stops after ten pages past twice the first
// total; one that grows a little (issues created while paging) does not.
func TestOffsetCursorStopsOnATotalThatKeepsGrowing(t *testing.T) {
	page := func(n, total int) searchPage {
		return searchPage{Issues: make([]json.RawMessage, n), Total: total}
	}
	c := &offsetCursor{base: "rest/api/2/search?jql=x"}
	var err error
	more, pages := true, 0
	for total := 100; more && pages < 1000; total += 100 {
		more, err = c.next(page(50, total))
		pages++
	}
	if err == nil || !strings.Contains(err.Error(), "paging without end") || pages > 20 {
		t.Fatalf("after %d pages: more %v, %v", pages, more, err)
	}
	c = &offsetCursor{base: "rest/api/2/search?jql=x"}
	for pages, total := 0, 1000; ; pages, total = pages+1, total+3 {
		more, err := c.next(page(50, total))
		if err != nil {
			t.Fatalf("a total growing by 3 a page: %v", err)
		}
		if !more {
			break
		}
	}
	if !strings.HasSuffix(c.path(), "&startAt="+itoa(c.startAt)) {
		t.Fatalf("path %s", c.path())
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
