source "s" {
  paths = ["x.log"]
  rule "r" {
    regex = <<-EOT
      ^(?P<v>\d+)$   
    EOT
    time {
      from   = "v"
      layout = "unix"
    }
    fields = { v = "int" }
  }
}
