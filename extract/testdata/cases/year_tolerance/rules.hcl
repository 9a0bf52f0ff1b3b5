# A year-less time up to a day after the file's modification time
# (2025-01-01 12:00 UTC) keeps the mtime's year; a second more, and it is
# last year's.
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
