source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    regex = "^(?P<ts>\\S+) n=(?P<n>\\d+)$"
    time {
      from   = "time"
      layout = "rfc3339"
    }
    fields = { n = "int" }
  }
}
