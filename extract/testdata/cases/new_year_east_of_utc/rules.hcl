# A log written in Berlin, read with the default location UTC, modified at
# 00:30 Berlin time on New Year's Day (23:30 UTC): its lines of the new year
# look up to an hour after the mtime, and keep the new year.
source "auth" {
  paths = ["input.log"]
  rule "syslog" {
    regex = "^(?P<time>\\w{3} [ \\d]\\d \\S+) v=(?P<v>\\d+)$"
    time {
      from   = "time"
      layout = "syslog"
    }
    fields = { v = "int" }
  }
}
