agent {
  tags = ["host"]
}
source "app" {
  paths = ["/var/log/app.log"]
  tags  = { service = "shop", team = "" }
  rule "lines" {
    logfmt = true
    tags   = "method"
    fields = { n = "int" }
  }
  rule "nested" {
    logfmt = true
    tags   = { method = ["a", "b"] }
    fields = { n = "int" }
  }
}
