package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	jira "github.com/andygrunwald/go-jira"
)

// deployment is what Jira Cloud and Data Center do differently for the
// collector (JIRA.md): how a search pages and what it says of its size,
// how an issue's whole changelog is fetched, and whether a search can be
// checked before anything is written. The preflight picks one from
// /rest/api/2/serverInfo; nothing else in the collector asks which.
type deployment interface {
	// checkSearch asks Jira to run the search once, so that a bad JQL
	// stops the sync before anything is written.
	checkSearch(ctx context.Context, jql string) error
	// search starts paging through a search.
	search(jql, fields string, pageSize int) searchCursor
	// count is how many issues a search holds, asked before paging, for
	// the progress line; -1 when the deployment cannot tell.
	count(ctx context.Context, jql string) int
	// pageTotal is the size of the search a page states; -1 for none.
	pageTotal(page searchPage) int
	// fullChangelog returns every history of an issue.
	fullChangelog(ctx context.Context, key string) ([]json.RawMessage, error)
}

// searchCursor walks the pages of one search.
type searchCursor interface {
	// path is the request of the next page.
	path() string
	// next takes the page just read and says whether another follows.
	next(page searchPage) (more bool, err error)
}

func newDeployment(c *jiraClient, deploymentType string) deployment {
	if deploymentType == "Cloud" {
		return cloud{c}
	}
	return dataCenter{c}
}

// cloud is Jira Cloud: the enhanced search /rest/api/2/search/jql (the old
// one answers 410), paged on nextPageToken until isLast, without a total;
// changelogs paged on /rest/api/2/issue/{key}/changelog.
type cloud struct{ c *jiraClient }

func (d cloud) checkSearch(ctx context.Context, jql string) error {
	if _, resp, err := d.c.Issue.SearchV2JQLWithContext(ctx, jql, &jira.SearchOptionsV2{MaxResults: 1}); err != nil {
		return d.c.explain("rest/api/2/search/jql", resp, err)
	}
	return nil
}

func (d cloud) search(jql, fields string, pageSize int) searchCursor {
	return &tokenCursor{base: fmt.Sprintf("rest/api/2/search/jql?jql=%s&fields=%s&expand=changelog&maxResults=%d", url.QueryEscape(jql), fields, pageSize)}
}

// count asks the approximate count; the search itself gives none.
func (d cloud) count(ctx context.Context, jql string) int {
	req, err := d.c.NewRequestWithContext(ctx, "POST", "rest/api/3/search/approximate-count", map[string]string{"jql": jql})
	if err != nil {
		return -1
	}
	var out struct {
		Count int `json:"count"`
	}
	if _, err := d.c.Do(req, &out); err != nil {
		return -1
	}
	return out.Count
}

func (cloud) pageTotal(searchPage) int { return -1 }

func (d cloud) fullChangelog(ctx context.Context, key string) ([]json.RawMessage, error) {
	var all []json.RawMessage
	for start := 0; ; {
		var page struct {
			Values []json.RawMessage `json:"values"`
			IsLast bool              `json:"isLast"`
			Total  int               `json:"total"`
		}
		if err := d.c.get(ctx, fmt.Sprintf("rest/api/2/issue/%s/changelog?startAt=%d&maxResults=100", url.PathEscape(key), start), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Values...)
		start += len(page.Values)
		if page.IsLast || len(page.Values) == 0 || start >= page.Total {
			return all, nil
		}
	}
}

// tokenCursor pages on nextPageToken until isLast, never on a short page.
// A token Jira gave before means it is paging in a circle: an error, not
// an endless sync.
type tokenCursor struct {
	base, token string
	seen        map[string]bool
	pages       int
}

func (t *tokenCursor) path() string {
	if t.token == "" {
		return t.base
	}
	return t.base + "&nextPageToken=" + url.QueryEscape(t.token)
}

func (t *tokenCursor) next(page searchPage) (bool, error) {
	if page.IsLast {
		return false, nil
	}
	if page.NextPageToken == "" {
		return false, errors.New("search page without isLast nor nextPageToken")
	}
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	t.pages++
	if t.seen[page.NextPageToken] {
		return false, fmt.Errorf("the search gave page %d the token of an earlier page: Jira is paging in a circle; stopped", t.pages+1)
	}
	t.seen[page.NextPageToken] = true
	t.token = page.NextPageToken
	return true, nil
}

// dataCenter is Jira Data Center (and Server): /rest/api/2/search paged on
// startAt and total; an issue's whole changelog comes with the issue.
type dataCenter struct{ c *jiraClient }

// checkSearch has nothing to do: the first page of the search fails
// before anything of the project is written.
func (dataCenter) checkSearch(context.Context, string) error { return nil }

func (d dataCenter) search(jql, fields string, pageSize int) searchCursor {
	return &offsetCursor{base: fmt.Sprintf("rest/api/2/search?jql=%s&fields=%s&expand=changelog&maxResults=%d", url.QueryEscape(jql), fields, pageSize)}
}

func (dataCenter) count(context.Context, string) int { return -1 }

func (dataCenter) pageTotal(page searchPage) int { return page.Total }

func (d dataCenter) fullChangelog(ctx context.Context, key string) ([]json.RawMessage, error) {
	var is struct {
		Changelog struct {
			Histories []json.RawMessage `json:"histories"`
		} `json:"changelog"`
	}
	err := d.c.get(ctx, "rest/api/2/issue/"+url.PathEscape(key)+"?fields=created&expand=changelog", &is)
	return is.Changelog.Histories, err
}

// offsetCursor pages on startAt until total. A total that keeps growing
// past twice the first one (and 10 pages) means Jira is paging without end.
type offsetCursor struct {
	base         string
	startAt      int
	first, pages int
}

func (o *offsetCursor) path() string { return fmt.Sprintf("%s&startAt=%d", o.base, o.startAt) }

func (o *offsetCursor) next(page searchPage) (bool, error) {
	if o.pages == 0 {
		o.first = page.Total
	}
	o.pages++
	o.startAt += len(page.Issues)
	more := len(page.Issues) > 0 && o.startAt < page.Total
	if more && o.pages >= 10 && o.startAt > 2*o.first {
		return false, fmt.Errorf("the search has given %d issues in %d pages where its first page announced %d: Jira is paging without end; stopped", o.startAt, o.pages, o.first)
	}
	return more, nil
}
