source "app" {
  paths = ["input.log"]
  rule "app_requests" {
    json = true
    time {
      from   = "ts"
      layout = "rfc3339"
    }
    tags = { route = "http.route", method = "http.method", status = "http.status", peer = "id.orig_h", first = "upstreams.0.name" }
    field "duration_seconds" {
      from  = "duration_ms"
      type  = "float"
      scale = 0.001
    }
    field "fails" {
      from = "upstreams.1.fails"
      type = "int"
    }
    fields = { bytes = "int", cached = "bool", user = "string" }
  }
}
