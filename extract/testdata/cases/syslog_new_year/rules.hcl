source "auth" {
  paths = ["input.log"]
  rule "ssh_logins" {
    regex = <<-EOT
      ^(?P<time>\w{3} +\d{1,2} \d\d:\d\d:\d\d) (?P<host>\S+) sshd\[\d+\]: (?P<result>Accepted|Failed) (?P<method>\S+) for (?:invalid user )?(?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)
    EOT
    time {
      from   = "time"
      layout = "syslog"
    }
    tags   = ["host", "result", "method"]
    fields = { user = "string", port = "int" }
  }
  rule "ssh_logins_berlin" {
    regex = <<-EOT
      ^(?P<time>\w{3} +\d{1,2} \d\d:\d\d:\d\d) \S+ sshd\[\d+\]: Accepted \S+ for (?P<user>\S+)
    EOT
    time {
      from     = "time"
      layout   = "Jan _2 15:04:05"
      location = "Europe/Berlin"
    }
    fields = { user = "string" }
  }
}
