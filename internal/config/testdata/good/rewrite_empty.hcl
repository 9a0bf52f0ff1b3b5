source "nginx" {
  paths = ["/var/log/nginx/access.log"]
  tags  = { route = "none" } # the way to tag lines without a path
  rule "requests" {
    regex = "^(?P<time>\\S+) (?P<method>[A-Z]+) (?P<path>\\S*) (?P<bytes>\\d+)$"
    time {
      from   = "time"
      layout = "rfc3339"
    }
    tags   = { method = "method", route = "path" }
    fields = { bytes = "int" }
    rewrite "path" { # never applies: an empty path makes no tag
      regex   = "^$"
      replace = "none"
    }
    rewrite "path" { # applies: prefixes every path
      regex   = "^"
      replace = "GET "
    }
  }
}
