source "app" {
  paths = ["/var/log/app.jsonl"]
  rule "lines" {
    json   = true
    tags   = { route = "http..route" }
    fields = { bytes = "int" }
    field "took" {
      from = ".duration"
    }
  }
}
