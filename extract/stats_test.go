package extract

import (
	"reflect"
	"testing"
)

// TestStatsAddEveryCount: add sums every count of RuleStats and
// SourceStats, so a count added to either later cannot be forgotten there
// (a reload would then show the retired rule's share of it vanishing).
func TestStatsAddEveryCount(t *testing.T) {
	for _, v := range []any{&RuleStats{}, &SourceStats{}} {
		one := reflect.New(reflect.TypeOf(v).Elem())
		n := 0
		for i := range one.Elem().NumField() {
			if f := one.Elem().Field(i); f.Kind() == reflect.Uint64 {
				f.SetUint(1)
				n++
			}
		}
		sum := reflect.ValueOf(v)
		for range 2 {
			sum.MethodByName("Add").Call([]reflect.Value{one.Elem()})
		}
		for i := range sum.Elem().NumField() {
			if f := sum.Elem().Field(i); f.Kind() == reflect.Uint64 && f.Uint() != 2 {
				t.Errorf("%T.%s = %d after adding 1 twice", v, sum.Elem().Type().Field(i).Name, f.Uint())
			}
		}
		if n < 5 {
			t.Fatalf("%T: only %d counts found", v, n)
		}
	}
}
