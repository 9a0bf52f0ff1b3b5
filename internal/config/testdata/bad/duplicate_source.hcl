source "app" {
  paths = ["/var/log/a.log"]
  rule "a" {
    logfmt = true
    fields = { n = "int" }
  }
}
source "app" {
  paths = ["/var/log/b.log"]
  rule "b" {
    logfmt = true
    fields = { n = "int" }
  }
}
