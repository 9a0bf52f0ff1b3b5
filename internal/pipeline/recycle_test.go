package pipeline

import "testing"

func TestRecycler(t *testing.T) {
	var none *Recycler
	none.Put(make([]Point, 1))
	if got := none.Get(); got != nil {
		t.Errorf("nil recycler gave %v", got)
	}

	r := NewRecycler(1)
	if got := r.Get(); got != nil {
		t.Errorf("empty recycler gave %v", got)
	}
	r.Put(nil) // nothing to keep
	if got := r.Get(); got != nil {
		t.Errorf("recycler kept a nil slice: %v", got)
	}
	a := make([]Point, 3, 8)
	a[0].Tags = make([]Tag, 0, 4)
	r.Put(a)
	r.Put(make([]Point, 1)) // over the bound: dropped, not blocking
	got := r.Get()
	if len(got) != 0 || cap(got) != 8 || cap(got[:1][0].Tags) != 4 {
		t.Errorf("Get = len %d cap %d, want the slice put first, emptied, with its points' capacity", len(got), cap(got))
	}
	if again := r.Get(); again != nil {
		t.Errorf("recycler kept more than its bound: %v", again)
	}
}
