source "nginx" {
  paths = ["/var/log/nginx/access.log"]
  rule "requests" {
    regex = "^(?P<time>\\S+) (?P<method>[A-Z]+) (?P<path>\\S+) (?P<bytes>\\d+)$"
    time {
      from   = "time"
      layout = "rfc3339"
    }
    tags   = { method = "method", route = "path" }
    fields = { bytes = "int" }
    # Query strings first, then ids: applied in this order.
    rewrite "path" {
      regex   = "\\?.*$"
      replace = ""
    }
    rewrite "path" {
      regex   = "/[0-9]+"
      replace = "/:id"
    }
    rewrite "method" {
      regex   = "^(?P<verb>GET|HEAD)$"
      replace = "$${verb}_READ"
    }
  }
}
