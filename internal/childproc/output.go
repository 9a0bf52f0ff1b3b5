package childproc

import (
	"bytes"
	"sync"
)

// Output collects a server's stdout and stderr, to show when it fails:
// exec copies each from its own goroutine, so writes are serialised.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
