package extract

import (
	"context"
	"sync"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

// RunParallel bounds. A chunk of lines closes at chunkLines lines or
// chunkBytes of text, or when no more line is waiting; chunksPerWorker
// chunks per worker exist, reused, so RunParallel holds at most that many
// chunks of lines (and their records) besides what out holds, and a slow
// sink stops it reading in.
const (
	chunkLines      = 256
	chunkBytes      = 1 << 20
	chunksPerWorker = 2
)

// chunk is lines on their way through RunParallel: read in order, matched
// by one worker, finished in order.
type chunk struct {
	items []item
	bytes int           // of text in items
	ready chan struct{} // the worker's token: every item is matched
}

// item is one line of a chunk, with its record and what matchLine found.
// A chunk keeps its items' slices from one use to the next.
type item struct {
	line pipeline.Line
	rec  pipeline.Record
	m    matched
}

// RunParallel is Run with the per-line work (matching, time parsing,
// conversion) spread over workers goroutines, in chunks of lines, and the
// order-dependent work (collision separation, the SetWindow filter, the
// budget, sending) done after, in line order: out receives exactly the
// records Run would send, in the same order, with the same points (same
// times), and Stats counts exactly what Run's would. Aggregation, being
// order-dependent, is done by the finisher too; the windows Idle and Flush
// close are sent as Run sends them. workers <= 1 is Run.
//
// It closes out when in is closed or ctx is done, and returns once every
// goroutine it started has stopped.
func (e *Extractor) RunParallel(ctx context.Context, in <-chan pipeline.Line, out chan<- pipeline.Record, workers int) error {
	if workers <= 1 {
		return e.Run(ctx, in, out)
	}
	defer close(out)
	n := chunksPerWorker * workers
	free := make(chan *chunk, n)
	for range n {
		free <- &chunk{items: make([]item, 0, chunkLines), ready: make(chan struct{}, 1)}
	}
	// Every chunk is in one of free, toMatch (then with a worker) or
	// toFinish, or with the reader or the finisher, so no send on them
	// ever waits.
	toMatch := make(chan *chunk, n)
	toFinish := make(chan *chunk, n)
	var wg sync.WaitGroup
	for range workers {
		// The worker's state is made here, before the reader can apply a
		// reload (swap writes what newWorker reads); after one, a worker
		// learns of it from the chunks it is handed (renew).
		w := e.newWorker()
		wg.Go(func() { e.matchChunks(w, toMatch) })
	}
	wg.Go(func() { e.finishChunks(ctx, toFinish, free, out) })
	closed := e.readChunks(ctx, in, free, toMatch, toFinish)
	close(toMatch)
	close(toFinish)
	wg.Wait()
	if closed && ctx.Err() == nil { // every chunk was finished
		e.end(ctx, out)
	}
	return nil
}

// readChunks reads in into chunks and hands each to the workers and, in
// the same order, to the finisher. It waits for a free chunk before reading
// on: that is the backpressure. It reports whether in was closed (rather
// than ctx done).
//
// A reload marker (Line.Rules) ends the chunk before it and goes alone in
// a chunk of its own; no chunk is read on until every chunk is free again,
// the marker's included: the workers match the lines after it only once
// the finisher has applied the new rules (see reload.go).
func (e *Extractor) readChunks(ctx context.Context, in <-chan pipeline.Line, free chan *chunk, toMatch, toFinish chan<- *chunk) bool {
	var marker *pipeline.Line // read, to go in a chunk of its own
	for {
		var c *chunk
		select {
		case <-ctx.Done():
			return false
		case c = <-free:
		}
		c.items, c.bytes = c.items[:0], 0
		if marker != nil {
			c.add(*marker)
			marker = nil
			toMatch <- c
			toFinish <- c
			if !drain(ctx, free) {
				return false
			}
			continue
		}
		select {
		case <-ctx.Done():
			return false
		case line, ok := <-in:
			if !ok {
				return true
			}
			if line.Rules != nil {
				marker = &line
				free <- c // unused: the marker takes the next
				continue
			}
			c.add(line)
		}
		// Fill the chunk with what is waiting, but never wait for more:
		// a quiet file's lines go through at once.
		closed := false
	fill:
		for len(c.items) < chunkLines && c.bytes < chunkBytes {
			select {
			case line, ok := <-in:
				if !ok {
					closed = true
					break fill
				}
				if line.Rules != nil {
					marker = &line
					break fill
				}
				c.add(line)
			default:
				break fill
			}
		}
		e.inFlight.Add(int64(c.lines()))
		toMatch <- c
		toFinish <- c
		if closed {
			return true
		}
	}
}

// drain waits until every chunk is back in free (cap(free) of them), that
// is, matched and finished, and puts them back. It returns false once ctx
// is done.
func drain(ctx context.Context, free chan *chunk) bool {
	held := make([]*chunk, 0, cap(free))
	for len(held) < cap(free) {
		select {
		case <-ctx.Done():
			return false
		case c := <-free:
			held = append(held, c)
		}
	}
	for _, c := range held {
		free <- c
	}
	return true
}

// add appends line to c, reusing the slices of the item it overwrites.
func (c *chunk) add(line pipeline.Line) {
	c.items = c.items[:len(c.items)+1] // within chunkLines, the capacity
	c.items[len(c.items)-1].line = line
	c.bytes += len(line.Text)
}

// matchChunks is a worker: it does the per-line work of each chunk with
// its own scratch space and hands the chunk back through its token. It
// does it also once ctx is done, so that every line taken from in is
// counted, as Run counts every line it takes: the figures of a stopped
// agent reconcile with what the tailer handed over
// (TestRunParallelCountsWhatItTook). The work left then is at most the
// chunks in flight.
func (e *Extractor) matchChunks(w *worker, toMatch <-chan *chunk) {
	for c := range toMatch {
		for i := range c.items {
			it := &c.items[i]
			e.matchItem(w, &it.line, &it.rec, &it.m)
		}
		c.ready <- struct{}{}
	}
}

// finishChunks is the finisher: it takes the chunks in the order they were
// read, waits for each to be matched, does the in-order work of every line
// and frees the chunk. Once ctx is done it still takes every chunk read,
// until toFinish is closed, and places their lines without sending them
// (settle): their points are counted as extracted and not delivered, as
// Run counts those of the line whose record it could not send.
func (e *Extractor) finishChunks(ctx context.Context, toFinish <-chan *chunk, free chan<- *chunk, out chan<- pipeline.Record) {
	tick, stop := e.idleTicker()
	defer func() { stop() }() // stop changes when a reload starts the ticker
	stopped := false          // a send failed: ctx is done
	for {
		if tick == nil && e.feed == FeedFollowed && e.aggregates { // a reload added aggregate rules
			tick, stop = e.idleTicker()
		}
		var c *chunk
		select {
		case <-tick:
			if stopped || ctx.Err() != nil || len(toFinish) > 0 {
				continue // stopping, or lines waiting: no source is known to be quiet
			}
			stopped = !e.idle(ctx, out)
			continue
		case next, ok := <-toFinish:
			if !ok {
				return
			}
			c = next
		}
		<-c.ready // the workers match every chunk, ctx done or not
		for i := range c.items {
			it := &c.items[i]
			if isLine(&it.line) {
				e.inFlight.Add(-1) // before it is placed and counted
			}
			if stopped = stopped || ctx.Err() != nil; stopped {
				e.settle(it)
			} else {
				stopped = !e.finishItem(ctx, &it.line, &it.rec, &it.m, out)
			}
			it.line = pipeline.Line{} // let go of its text
		}
		free <- c
	}
}

// isLine says whether l is a line of a file, which placeLine counts, and
// not a marker (EOF, a source's latest time, a reload).
func isLine(l *pipeline.Line) bool {
	return !l.EOF && !l.HasLatest && l.Rules == nil
}

// lines is how many of c's items are lines of files.
func (c *chunk) lines() int {
	n := 0
	for i := range c.items {
		if isLine(&c.items[i].line) {
			n++
		}
	}
	return n
}

// InFlight is how many lines RunParallel has taken from its input and not
// yet placed (extracted in line order, and counted in Stats): with the
// lines still queued for it, the lines read and not yet extracted.
func (e *Extractor) InFlight() uint64 {
	return uint64(max(0, e.inFlight.Load()))
}

// settle is finishItem for a line that will not be sent, ctx being done:
// it is only placed, so that its points are counted.
func (e *Extractor) settle(it *item) {
	if !it.line.EOF && !it.line.HasLatest {
		e.placeLine(&it.line, &it.rec, &it.m)
	}
}
