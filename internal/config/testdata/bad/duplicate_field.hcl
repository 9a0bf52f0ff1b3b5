source "app" {
  paths = ["/var/log/app.log"]
  rule "lines" {
    logfmt = true
    tags   = ["method", "method"]
    fields = { n = "int", n = "float" }
    field "n" {
      type = "float"
    }
  }
}
