package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// jql is the search of one project: updated since the checkpoint (minus
// the overlap), ordered by created so that pages do not shift while paging.
func (r *run) jql(project string, since time.Time) string {
	q := "project = " + quoteJQL(project)
	if !since.IsZero() {
		q += ` AND updated >= "` + FormatJQLTime(since, r.meta.loc) + `"`
	}
	if r.cfg.JQL != "" {
		q += " AND (" + r.cfg.JQL + ")"
	}
	return q + " ORDER BY created ASC"
}

// FormatJQLTime writes a time as JQL reads it: minutes, in the searching
// user's time zone, rounded down so that nothing at the boundary is missed.
func FormatJQLTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Truncate(time.Minute).Format("2006/01/02 15:04")
}

func quoteJQL(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// searchFields are the fields asked for explicitly: Cloud returns only ids
// without them.
func (r *run) searchFields() string {
	f := []string{"summary", "issuetype", "status", "priority", "labels", "components", "fixVersions", "project",
		"created", "updated", "resolutiondate", "resolution", "description", "parent", "duedate", "issuelinks"}
	fl := r.meta.fields
	for _, id := range []string{fl.StoryPoints, fl.Sprint, fl.EpicLink, fl.BusinessValue, fl.Rank, fl.TimeCriticality, fl.RiskReduction, fl.JobSize, fl.Acceptance, fl.ParentLink, fl.Flagged} {
		if id != "" {
			f = append(f, id)
		}
	}
	return strings.Join(f, ",")
}

// searchPage is one page of either search endpoint, issues kept raw.
type searchPage struct {
	Issues        []json.RawMessage `json:"issues"`
	IsLast        bool              `json:"isLast"`
	NextPageToken string            `json:"nextPageToken"`
	StartAt       int               `json:"startAt"`
	MaxResults    int               `json:"maxResults"`
	Total         int               `json:"total"`
}

// pages walks a search and sends each page, paging as the site's
// deployment does.
func (r *run) pages(ctx context.Context, jql string, out chan<- searchPage) error {
	defer close(out)
	cur := r.site.search(jql, url.QueryEscape(r.searchFields()), r.cfg.PageSize)
	for {
		page, err := r.searchPage(ctx, cur.path())
		if err != nil {
			return err
		}
		select {
		case out <- page:
		case <-ctx.Done():
			return ctx.Err()
		}
		more, err := cur.next(page)
		if err != nil {
			return fmt.Errorf("jira site %s: %w", r.cfg.Name, err)
		}
		if !more {
			return nil
		}
	}
}

// searchPage fetches one page with go-jira's client and decodes it in one
// streaming pass, each issue kept as raw JSON: decoding the page into
// []json.RawMessage first would scan every issue twice more.
func (r *run) searchPage(ctx context.Context, path string) (searchPage, error) {
	req, err := r.c.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return searchPage{}, fmt.Errorf("jira request %s: %w", path, err)
	}
	resp, err := r.c.Do(req, nil)
	if err != nil {
		return searchPage{}, r.c.explain(path, resp, err)
	}
	defer resp.Body.Close()
	page, err := DecodeSearchPage(resp.Body)
	if err != nil {
		return page, fmt.Errorf("jira site %s: search page: %w", r.cfg.Name, err)
	}
	return page, nil
}

// DecodeSearchPage reads a page of either search endpoint.
func DecodeSearchPage(rd io.Reader) (searchPage, error) {
	var p searchPage
	dec := json.NewDecoder(rd)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return p, fmt.Errorf("not a JSON object (%v)", err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return p, err
		}
		key, _ := t.(string)
		switch key {
		case "issues":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return p, fmt.Errorf("issues: not an array (%v)", err)
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return p, fmt.Errorf("issue %d: %w", len(p.Issues)+1, err)
				}
				p.Issues = append(p.Issues, raw)
			}
			if _, err := dec.Token(); err != nil {
				return p, err
			}
		case "isLast":
			err = dec.Decode(&p.IsLast)
		case "nextPageToken":
			err = dec.Decode(&p.NextPageToken)
		case "startAt":
			err = dec.Decode(&p.StartAt)
		case "maxResults":
			err = dec.Decode(&p.MaxResults)
		case "total":
			err = dec.Decode(&p.Total)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return p, fmt.Errorf("%s: %w", key, err)
		}
	}
	_, err := dec.Token()
	return p, err
}

// withChangelog replaces an issue's inline changelog with the complete one,
// leaving every other key as Jira sent it.
func withChangelog(raw json.RawMessage, histories []json.RawMessage) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	cl, err := json.Marshal(map[string]any{"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories})
	if err != nil {
		return nil, err
	}
	top["changelog"] = cl
	return json.Marshal(top)
}
