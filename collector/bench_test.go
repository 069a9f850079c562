package collector

import (
	"bytes"
	"encoding/json"
	"testing"
)

func benchIssue() []byte {
	var hs []string
	for i := 0; i < 12; i++ {
		hs = append(hs, h("1@2024-03-02T10:00:00.000+0100|10000>3"), sprintH("2", "2024-03-03T10:00:00.000+0100", "101", "101, 102"))
	}
	return issueJSON("10005", `"labels":["a","b"],"components":[{"name":"Checkout"}],"customfield_10016":5,"customfield_10020":[{"id":7}],"description":"x"`, hs...)
}

// BenchmarkExtract measures turning one issue with 24 histories into rows.
func BenchmarkExtract(b *testing.B) {
	raw := benchIssue()
	m := testMapping()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Extract(raw, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSearchPage measures splitting a page of 100 issues.
func BenchmarkDecodeSearchPage(b *testing.B) {
	issue := benchIssue()
	var buf bytes.Buffer
	buf.WriteString(`{"isLast":false,"nextPageToken":"abc","issues":[`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(issue)
	}
	buf.WriteString(`]}`)
	page := buf.Bytes()
	if !json.Valid(page) {
		b.Fatal("invalid page")
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := DecodeSearchPage(bytes.NewReader(page))
		if err != nil || len(p.Issues) != 100 {
			b.Fatal(err)
		}
	}
}
