#include <zmq.h>
#include <fcntl.h>
#include <unistd.h>
