package rescan

import (
	"regexp"
	"testing"
)

// multilineRecords are records as a multiline source joins them (lines
// separated by "\n", no line ending), from the shapes of the samples in
// testdata/logs/samples, plus edge cases around the newlines.
var multilineRecords = []string{
	"[2016-12-19 20:51:20,700] WARN [ReplicaFetcherThread-0-0], Error in fetch (kafka.server.ReplicaFetcherThread)\njava.io.IOException: Connection to 0 was disconnected before the response was read\n\tat kafka.utils.NetworkClientBlockingOps.apply(NetworkClientBlockingOps.scala:115)\n\tat scala.Option.foreach(Option.scala:257)",
	"[2016-12-19 20:51:20,700] INFO one line only (kafka.server.KafkaServer)",
	"[2023-05-15 18:19:32] local.ERROR: Target class [X] does not exist. {\"exception\":\"[object] (Illuminate\\\\Contracts(code: 0): x at /a.php:916)\n[stacktrace]\n#0 /a.php(795): build('X')\n#1 {main}\n\"} ",
	"# Time: 2021-01-26T23:45:57.678222Z\n# User@Host: owncloud[owncloud] @ localhost []  Id:     2\n# Schema: owncloud  Last_errno: 0  Killed: 0\n# Query_time: 0.011853  Lock_time: 0.011542  Rows_sent: 268  Rows_examined: 268  Rows_affected: 0\n# Bytes_sent: 10121\nuse owncloud;\nSELECT 1;",
	"[task 2025-02-14T00:05:10.398Z] 00:05:10  WARNING - Traceback (most recent call last):\n[task 2025-02-14T00:05:10.399Z] 00:05:10  WARNING -   File \"/w/base.py\", line 789, in process_action\n[task 2025-02-14T00:05:10.399Z] 00:05:10  WARNING -     action_handler = self.actions[action]",
	"\n", "\n\n", "a\n", "\na", "a\nb\n\nc", "x\r\ny", "é\nü\n\xff",
}

// multilinePatterns are patterns over such records: with and without (?s)
// and (?m), anchored at the record's start, end or a line's. The samples'
// rules are among seedPatterns, which the test runs too.
var multilinePatterns = []string{
	`^(?P<first>.*)$`,
	`(?s)^(?P<all>.*)$`,
	`(?m)^(?P<line>.*)$`,
	`(?ms)^(?P<a>.*)$`,
	`(?m)^\tat (?P<frame>\S+)$`,
	`(?m)^#(?P<n>\d+) `,
	`(?s)(?P<last>[^\n]*)$`,
	`(?m)(?P<w>\w+)$`,
	`.+`,
	`(?s).+`,
	`\n(?P<second>[^\n]*)`,
	`(?m)^$`,
	`a$`,
	`(?m)a$`,
	`[^a]+`,
	`(?P<x>.*?)\n`,
	`(?s)(?P<x>.*)\n`,
	`(?U)(?s)(?P<x>.*)\n`,
}

// TestMultilineRecords holds the scanner to regexp on multi-line records:
// a rule of a multiline source sees the joined text, and whatever it
// answers must be regexp's answer.
func TestMultilineRecords(t *testing.T) {
	compiled := 0
	for _, p := range append(multilinePatterns, seedPatterns...) {
		re := regexp.MustCompile(p)
		s := Compile(p)
		if s == nil {
			continue
		}
		compiled++
		for _, rec := range append(multilineRecords, seedLines...) {
			check(t, re, s, rec)
		}
	}
	if compiled < len(multilinePatterns) {
		t.Fatalf("the scanner took only %d patterns: the test would hold little", compiled)
	}
}
