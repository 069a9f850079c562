package jirasim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkGenerateIssue measures generating one issue with its changelog.
func BenchmarkGenerateIssue(b *testing.B) {
	g, _ := NewGenerator(Config{Seed: 7, Issues: 100000, Cloud: true})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.Issue(i % 100000)
	}
}

// BenchmarkSearchPage measures serving one page of 100 issues with fields
// and changelogs over HTTP (loopback), the simulator's hot path.
func BenchmarkSearchPage(b *testing.B) {
	sim, _ := New(Options{Config: Config{Seed: 7, Issues: 100000, Cloud: true}, Email: "e", APIToken: "t"})
	ts := httptest.NewServer(sim.Handler())
	defer ts.Close()
	url := ts.URL + "/rest/api/2/search/jql?jql=project%3DSHOP&maxResults=100&expand=changelog&fields=summary,status,issuetype,created,updated,customfield_10016,customfield_10020,labels,fixVersions"
	get := func(u string) []byte {
		req, _ := http.NewRequest("GET", u, nil)
		req.SetBasicAuth("e", "t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return body
	}
	var page struct{ NextPageToken string }
	json.Unmarshal(get(url), &page)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		body := get(url + "&nextPageToken=" + page.NextPageToken)
		n += len(body)
	}
	b.ReportMetric(float64(n)/float64(b.N)/100, "bytes/issue")
}
