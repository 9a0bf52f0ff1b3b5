# Windows of 10 s with 5 s of lateness: a window is written when a line
# 5 s past its end arrives (or at the end of the input); a line of a
# window already written is late and dropped.
source "nginx" {
  paths = ["input.log"]
  rule "traffic" {
    regex = <<-EOT
      \[(?P<time>[^\]]+)\] "[^"]*" (?P<status>\d)\d\d (?P<bytes>\d+|-) (?P<request_time>[\d.]+)$
    EOT
    time {
      from   = "time"
      layout = "02/Jan/2006:15:04:05 -0700"
    }
    tags   = { status_class = "status" }
    fields = { bytes = "int", request_time = "float" }
    aggregate {
      window   = "10s"
      lateness = "5s"
      stats    = ["count", "sum", "min", "max", "mean"]
      buckets  = [0.1, 1]
    }
  }
}
