package pipeline

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

// acquiring starts Acquire(ctx, n) and returns a channel that gets its
// result; the test waits for it, so the goroutine has an owner.
func acquiring(ctx context.Context, b *Budget, n int) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.Acquire(ctx, n) }()
	return done
}

// waiting fails the test unless Acquire still waits once every goroutine
// of the bubble is blocked.
func waiting(t *testing.T, done <-chan error) {
	t.Helper()
	synctest.Wait()
	select {
	case err := <-done:
		t.Fatalf("Acquire returned %v, want it to wait", err)
	default:
	}
}

func TestBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		b := NewBudget(10)
		if err := b.Acquire(ctx, 7); err != nil {
			t.Fatal(err)
		}
		if err := b.Acquire(ctx, 0); err != nil { // a checkpoint never waits
			t.Fatal(err)
		}
		if err := b.Acquire(ctx, 3); err != nil { // exactly full
			t.Fatal(err)
		}
		if got := b.Held(); got != 10 {
			t.Fatalf("Held = %d, want 10", got)
		}
		done := acquiring(ctx, b, 2)
		waiting(t, done)
		b.Release(1) // 9 held: 2 do not fit yet
		waiting(t, done)
		b.Release(1)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := b.Held(); got != 10 {
			t.Fatalf("Held = %d, want 10", got)
		}
		b.Release(10)
		if got := b.Held(); got != 0 {
			t.Fatalf("Held = %d after releasing everything, want 0", got)
		}
	})
}

// TestBudgetLargerThanMax: a record of more points than the whole budget
// waits until nothing else is held, then goes alone; the next one waits
// until it is released. Nothing deadlocks.
func TestBudgetLargerThanMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		b := NewBudget(10)
		if err := b.Acquire(ctx, 1); err != nil {
			t.Fatal(err)
		}
		big := acquiring(ctx, b, 25)
		waiting(t, big)
		b.Release(1)
		if err := <-big; err != nil {
			t.Fatal(err)
		}
		if got := b.Held(); got != 25 {
			t.Fatalf("Held = %d, want the big record's 25", got)
		}
		next := acquiring(ctx, b, 1)
		waiting(t, next)
		b.Release(25)
		if err := <-next; err != nil {
			t.Fatal(err)
		}
	})
}

// TestBudgetCancel: a waiting Acquire returns when its context ends, and
// holds nothing.
func TestBudgetCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBudget(2)
		if err := b.Acquire(t.Context(), 2); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := acquiring(ctx, b, 1)
		waiting(t, done)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire = %v, want context.Canceled", err)
		}
		if got := b.Held(); got != 2 {
			t.Fatalf("Held = %d, want 2: a cancelled Acquire holds nothing", got)
		}
		b.Release(2)
		// A cancelled context does not fail an Acquire that fits.
		if err := b.Acquire(ctx, 1); err != nil {
			t.Fatalf("Acquire with room = %v, want nil", err)
		}
	})
}

func TestBudgetNil(t *testing.T) {
	var b *Budget
	if err := b.Acquire(t.Context(), 1<<30); err != nil {
		t.Fatal(err)
	}
	b.Release(1 << 30)
	if b.Held() != 0 || b.Max() != 0 {
		t.Errorf("nil budget: Held %d, Max %d, want 0 and 0", b.Held(), b.Max())
	}
}

func TestBudgetOverRelease(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("releasing more than acquired did not panic")
		}
	}()
	b := NewBudget(1)
	b.Release(1)
}
