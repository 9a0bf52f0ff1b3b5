package pipeline

// Sampled reports whether the nth occurrence of a problem is logged: the
// 1st, 10th, 100th, ... Every stage samples its logs so, so that a storm of
// bad lines or failed writes costs a few log lines and the counters tell
// the rest.
func Sampled(n uint64) bool {
	for n > 0 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}
