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
    rewrite "path" {
      regex   = "/[0-9]+("
      replace = "/:id"
    }
    rewrite "path" {
      regex   = "^/(v[0-9]+)/(?P<rest>.*)$"
      replace = "$3/$1x/$${version}/$${2"
    }
    rewrite "route" {
      regex   = "x"
      replace = "y"
    }
    rewrite "bytes" {
      regex   = "[0-9]"
      replace = "0"
    }
    rewrite "path" {
      regex   = "^/(v[0-9]+)/(?P<rest>.*)$"
      replace = "$1-$${1}-$rest-$${rest}-$$2-$"
    }
    rewrite "path" {
      regex   = "[?&]"
      replace = "\t"
    }
  }
  rule "untagged" {
    regex = "^(?P<time>\\S+) (?P<n>\\d+)$"
    time {
      from   = "time"
      layout = "rfc3339"
    }
    fields = { n = "int" }
    rewrite "time" {
      regex   = "Z$"
      replace = "+00:00"
    }
  }
}
