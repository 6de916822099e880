module parkbench/echoclient

go 1.21
