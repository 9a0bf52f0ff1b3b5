source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
    aggregate {
      window = "10s"
      stats  = ["count"]
    }
  }
}
