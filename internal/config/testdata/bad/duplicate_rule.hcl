source "a" {
  paths = ["/var/log/a.log"]
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
  rule "lines" {
    logfmt = true
    fields = { m = "int" }
  }
}
source "b" {
  paths = ["/var/log/b.log"]
  # Unique per file, not per source: the name is the default measurement.
  rule "lines" {
    logfmt = true
    fields = { n = "int" }
  }
}
