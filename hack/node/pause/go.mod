module kvs-operator.local/node/pause

go 1.26
