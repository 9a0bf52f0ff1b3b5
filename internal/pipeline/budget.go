package pipeline

import (
	"context"
	"sync"
)

// Budget bounds the points held between extraction and delivery: extract
// acquires a record's points before it sends the record, and the sink
// releases them once the record's batch is finished (written, set aside or
// dropped). While the budget is spent, Acquire waits, extract stops taking
// lines and the tailer stops reading: the log file is the buffer.
//
// A record with more points than the whole budget is let through alone,
// once nothing else is held, so that it cannot wait forever; while it is
// held, Held exceeds Max. A nil *Budget bounds nothing, so stages work
// without one.
type Budget struct {
	max int

	mu   sync.Mutex
	held int
	// wake is closed by the next Release while someone waits, and then
	// forgotten: waiters look again. nil while nobody waits.
	wake chan struct{}
}

// NewBudget makes a budget of max points; max must be at least 1.
func NewBudget(max int) *Budget {
	if max < 1 {
		panic("bug: a budget of fewer than 1 point")
	}
	return &Budget{max: max}
}

// Acquire takes n points from the budget, waiting until they fit or ctx
// ends, when it returns ctx.Err() and holds nothing for the caller. A
// record of n points is sent only after its Acquire returned nil.
func (b *Budget) Acquire(ctx context.Context, n int) error {
	if b == nil || n <= 0 {
		return nil
	}
	for {
		b.mu.Lock()
		if b.held+n <= b.max || b.held == 0 {
			b.held += n
			b.mu.Unlock()
			return nil
		}
		if b.wake == nil {
			b.wake = make(chan struct{})
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release gives back n points acquired before.
func (b *Budget) Release(n int) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held -= n
	if b.held < 0 {
		panic("bug: budget released more points than were acquired")
	}
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}

// Held is how many points are held now. It is safe to call at any time.
func (b *Budget) Held() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// Max is how many points the budget holds at most, but for a single
// record of more.
func (b *Budget) Max() int {
	if b == nil {
		return 0
	}
	return b.max
}
