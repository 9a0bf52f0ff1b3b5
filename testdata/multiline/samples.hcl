# Rules for the multiline samples of testdata/logs/samples: one source per
# sample, each with a multiline block. Read by the tests of tailer
# (TestMultilineSamples) and cmd/logmetrics (the test and run end-to-end
# cases); see the README's "Multiline records". Not rules.hcl.example.

agent {
  state_dir = env("LOGMETRICS_STATE_DIR", "/var/lib/logmetrics")
  listen    = ""
}

influxdb {
  url    = env("INFLUX_URL", "http://127.0.0.1:8086")
  bucket = env("INFLUX_BUCKET", "logs/autogen")
}

# Kafka's log4j lines start with "[date time,ms] LEVEL"; a Java stack
# trace's lines ("java.io.IOException: ...", "\tat ...") continue them.
source "kafka_controller" {
  paths    = ["../logs/samples/elastic-examples/kafka0/controller.log.*"]
  start_at = "beginning"
  multiline {
    start     = "^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3}\\] "
    max_lines = 500
    timeout   = "2s"
  }
  rule "kafka_controller_events" {
    regex = "^\\[(?P<time>[^\\]]+)\\] (?P<level>[A-Z]+) (?P<message>[^\\n]*)"
    time {
      from   = "time"
      layout = "2006-01-02 15:04:05,000"
    }
    tags   = ["level"]
    fields = { message = "string" }
  }
}

source "kafka_server" {
  paths    = ["../logs/samples/elastic-examples/kafka1/server.log.*"]
  start_at = "beginning"
  multiline {
    start = "^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3}\\] "
  }
  rule "kafka_server_events" {
    regex = "^\\[(?P<time>[^\\]]+)\\] (?P<level>[A-Z]+) (?P<message>[^\\n]*)"
    time {
      from   = "time"
      layout = "2006-01-02 15:04:05,000"
    }
    tags   = ["level"]
    fields = { message = "string" }
  }
  # (?s): .* crosses the record's newlines to reach the exception line
  # that follows the first line.
  rule "kafka_server_exceptions" {
    regex = "(?s)^\\[(?P<time>[^\\]]+)\\] (?P<level>[A-Z]+) .*?\\n(?P<exception>[\\w.$]+(?:Exception|Error)): (?P<reason>[^\\n]*)\\n\\tat\\s"
    time {
      from   = "time"
      layout = "2006-01-02 15:04:05,000"
    }
    tags   = ["level", "exception"]
    fields = { reason = "string" }
    example {
      line   = "[2016-12-19 20:51:20,700] WARN [ReplicaFetcherThread-0-0], Error in fetch (kafka.server.ReplicaFetcherThread)\njava.io.IOException: Connection to 0 was disconnected before the response was read\n\tat kafka.utils.NetworkClientBlockingOps.apply(NetworkClientBlockingOps.scala:115)"
      expect = "kafka_server_exceptions,exception=java.io.IOException,level=WARN reason=\"Connection to 0 was disconnected before the response was read\" 1482180680700000000"
    }
    example {
      line   = "[2016-12-19 20:51:20,700] INFO no trace here (kafka.server.ReplicaFetcherThread)"
      expect = ""
    }
  }
}

# Laravel (Monolog): "[date time] env.LEVEL: message {context}", then the
# PHP trace ("[stacktrace]", "#0 ...", "[previous exception] ...").
source "laravel" {
  paths    = ["../logs/samples/lnav/logfile_laravel.*"]
  start_at = "beginning"
  multiline {
    start = "^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\] "
  }
  rule "laravel_errors" {
    regex = "^\\[(?P<time>[^\\]]+)\\] (?P<env>\\w+)\\.(?P<level>[A-Z]+): (?P<message>[^\\n]*)"
    time {
      from   = "time"
      layout = "2006-01-02 15:04:05"
    }
    tags   = ["level"]
    fields = { message = "string" }
  }
}

# MySQL's slow query log: each record starts with "# Time:".
source "mysql_slow" {
  paths    = ["../logs/samples/lnav/logfile_mysql_slow.*"]
  start_at = "beginning"
  multiline {
    start = "^# Time: "
  }
  rule "mysql_slow_queries" {
    regex = <<-EOT
      (?s)^# Time: (?P<time>\S+)\n# User@Host: (?P<user>\w+)\[.*?# Schema: (?P<schema>\w+).*?# Query_time: (?P<query_time>[\d.]+)\s+Lock_time: (?P<lock_time>[\d.]+)\s+Rows_sent: (?P<rows_sent>\d+)\s+Rows_examined: (?P<rows_examined>\d+)
    EOT
    time {
      from   = "time"
      layout = "2006-01-02T15:04:05.999999999Z07:00"
    }
    tags   = ["user", "schema"]
    fields = { query_time = "float", lock_time = "float", rows_sent = "int", rows_examined = "int" }
  }
}

# Firefox CI (mozharness): every line carries the task prefix, and the
# lines of a Python traceback that continue it are indented after it.
source "wpt" {
  paths    = ["../logs/samples/mozilla-treeherder/wpt-*.log"]
  start_at = "beginning"
  multiline {
    continue = "^\\[task [^\\]]+\\] \\S+ +[A-Z]+ -  "
  }
  rule "wpt_tracebacks" {
    regex = "(?s)^\\[task (?P<time>[^\\]]+)\\] \\S+ +(?P<level>[A-Z]+) - Traceback \\(most recent call last\\):\\n.*  File \"(?P<file>[^\"]+)\", line (?P<line>\\d+)"
    time {
      from   = "time"
      layout = "2006-01-02T15:04:05.000Z"
    }
    tags   = ["level"]
    fields = { line = "int", file = "string" }
  }
  rule "wpt_lines" {
    regex = "^\\[task (?P<time>[^\\]]+)\\] \\S+ +(?P<level>[A-Z]+) - (?P<message>[^\\n]*)"
    time {
      from   = "time"
      layout = "2006-01-02T15:04:05.000Z"
    }
    tags   = ["level"]
    fields = { message = "string" }
  }
}
