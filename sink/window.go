package sink

import (
	"context"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// batch is a run of records encoded as line protocol: written as one
// request (or, after a 413 or a refusal, as its parts) and acked as one.
type batch struct {
	buf  []byte
	ends []int // ends[i] is where line i of buf ends
	// from[i] is where line i came from, for its dead letter.
	from []lineOrigin
	done int // lines before done are written or set aside
	// origins holds the Origin (and Hold) of the batch's last record of each file,
	// in order of first appearance; acked of them are already sent.
	origins []pipeline.Ack
	acked   int
	records int // in the batch; of them, ofLines are records of lines (for Delivered, until the batch is finished)
	ofLines int
	held    int // points to give back to the budget, until then too

	// Set by launch; err is read once finished is closed. retrying is
	// its writer's own: whether the batch holds Sink.retrying.
	finished chan struct{}
	err      error // why the writer stopped before the batch was finished
	retrying bool
}

// lines returns lines [lo, hi) of b.
func (b *batch) lines(lo, hi int) []byte {
	start := 0
	if lo > 0 {
		start = b.ends[lo-1]
	}
	return b.buf[start:b.ends[hi-1]]
}

// start hands the pending batch to a writer of its own, behind the
// batches already in flight, and takes an empty one for the next records.
// The caller makes sure fewer than InFlight are in flight.
func (s *Sink) start(ctx context.Context) {
	b := s.cur
	s.flying = append(s.flying, b)
	if n := len(s.spare); n > 0 {
		s.cur, s.spare = s.spare[n-1], s.spare[:n-1]
	} else {
		s.cur = &batch{}
	}
	s.launch(ctx, b)
}

// launch starts a writer for the lines of b not yet written: it sends
// them until they are written or set aside, or ctx ends, and then closes
// b.finished.
func (s *Sink) launch(ctx context.Context, b *batch) {
	b.finished, b.err = make(chan struct{}), nil
	go func() {
		defer close(b.finished)
		defer s.release(b)
		from := b.done
		if b.done < len(b.ends) {
			b.err = s.send(ctx, b, b.done, len(b.ends))
		}
		s.tally.points.Add(uint64(b.done - from))
	}()
}

// oldest is closed once the oldest batch in flight is finished or its
// writer stopped; nil when none is in flight.
func (s *Sink) oldest() <-chan struct{} {
	if len(s.flying) == 0 {
		return nil
	}
	return s.flying[0].finished
}

// finish acks the oldest batch in flight, whose writer has returned,
// gives back its points and takes it out of flight. It returns an error
// if the batch is not finished (ctx ended, or the last attempt failed) or
// ctx ends before its acks are sent; the batch then stays, with the acks
// not yet sent, for the final flush.
func (s *Sink) finish(ctx context.Context, acks chan<- pipeline.Ack) error {
	b := s.flying[0]
	if b.err != nil {
		return b.err
	}
	s.tally.records.Add(uint64(b.ofLines))
	s.budget.Release(b.held)
	b.records, b.ofLines, b.held = 0, 0, 0
	for ; b.acked < len(b.origins); b.acked++ {
		if acks == nil {
			continue
		}
		select {
		case acks <- b.origins[b.acked]:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.flying = append(s.flying[:0], s.flying[1:]...)
	b.buf, b.ends, b.from, b.done = b.buf[:0], b.ends[:0], b.from[:0], 0
	b.origins, b.acked = b.origins[:0], 0
	b.finished = nil
	s.spare = append(s.spare, b)
	return nil
}

// drain starts the pending batch, if it has records, and finishes every
// batch, in order. It returns finish's error. The writers end with ctx, so
// it need not watch ctx itself, and a write that fails as ctx ends says so
// with its own error.
func (s *Sink) drain(ctx context.Context, acks chan<- pipeline.Ack) error {
	for s.cur.records > 0 || len(s.flying) > 0 {
		if s.cur.records > 0 && len(s.flying) < s.cfg.InFlight {
			s.start(ctx)
			continue
		}
		<-s.oldest()
		if err := s.finish(ctx, acks); err != nil {
			return err
		}
	}
	return nil
}

// waitWriters waits until every writer has returned.
func (s *Sink) waitWriters() {
	for _, b := range s.flying {
		<-b.finished
	}
}

// unwritten counts the points of the batches held that are neither
// written nor set aside.
func (s *Sink) unwritten() int {
	n := len(s.cur.ends)
	for _, b := range s.flying {
		n += len(b.ends) - b.done
	}
	return n
}

// hold makes b the batch that is retrying, waiting first for the one that
// is, if another is. From its first failed write that is retried (not a
// refusal being isolated) until it is finished, a batch alone talks to the
// server: the others make no attempt, first or retry (see turn), and one
// that failed meanwhile takes its own backoff after it. So a server that
// is down, throttling or misconfigured sees the requests and pings of one
// batch at a time, at its backoff, however many batches are in flight. It
// returns an error only when ctx ends.
func (s *Sink) hold(ctx context.Context, b *batch) error {
	if b.retrying {
		return nil
	}
	select {
	case s.retrying <- struct{}{}:
		b.retrying = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release ends b's hold, if it has one.
func (s *Sink) release(b *batch) {
	if b.retrying {
		<-s.retrying
		b.retrying = false
	}
}

// turn waits, before an attempt of b, until no other batch is retrying.
// It returns an error only when ctx ends.
func (s *Sink) turn(ctx context.Context, b *batch) error {
	if b.retrying {
		return nil
	}
	select {
	case s.retrying <- struct{}{}:
		<-s.retrying
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
