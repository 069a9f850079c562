package inputs

import (
	"bytes"
	"errors"
	"io"

	"github.com/evident-ebm/evident"
)

// MaxLine is the longest line a CSV file may have and MaxRecord the
// largest JSON record: files are streamed, and a file without line breaks
// (or one record holding a string of a gigabyte) must not be read whole
// into memory before it is refused.
const (
	MaxLine   = 1 << 20
	MaxRecord = 4 << 20
)

// lineLimit fails a read once a line grows past max bytes, naming the line.
type lineLimit struct {
	r    io.Reader
	max  int
	cur  int // bytes since the last newline
	line int // the line being read, from 1
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for b := p[:n]; len(b) > 0; {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.cur += len(b)
			break
		}
		if l.cur += i; l.cur > l.max {
			break
		}
		l.line++
		l.cur = 0
		b = b[i+1:]
	}
	if l.cur > l.max {
		return 0, evident.Errorf(evident.EINVALID, "line %d: longer than %d MiB (is this a CSV file?)", l.line, l.max>>20)
	}
	return n, err
}

var errRecordTooLarge = errors.New("record too large")

// recordBudget fails a read once more than left bytes are read: reset
// before each JSON record, it bounds what the decoder buffers for one.
type recordBudget struct {
	r    io.Reader
	left int
	over bool
}

func (b *recordBudget) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.over = true
		return 0, errRecordTooLarge
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}
