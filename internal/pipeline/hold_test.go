package pipeline

import "testing"

func TestHoldCommit(t *testing.T) {
	o := Origin{Offset: 100}
	for _, tc := range []struct {
		h    Hold
		want int64
	}{
		{Hold{}, 100},                      // not held: the record's offset
		{Hold{Hold: 40, Held: true}, 40},   // a window still open from 40
		{Hold{Hold: 0, Held: true}, 0},     // from the file's start
		{Hold{Hold: 200, Held: true}, 100}, // never past the record
	} {
		if got := tc.h.Commit(o); got != tc.want {
			t.Errorf("%+v.Commit(offset 100) = %d, want %d", tc.h, got, tc.want)
		}
	}
}
