source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    time {
      from   = "ts"
      layout = "rfc3339"
    }
    fields = { n = "int" }
    aggregate {
    }
  }
}
