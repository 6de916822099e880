module parkbench/gocheck

go 1.21
