package dataplane

import (
	"context"
	"io"
	"net"
	"time"
)

// passthrough relays a TLS connection, ClientHello included, to a target of the listener's
// default action. No headers can be added: the bytes are the client's.
func (dp *DataPlane) passthrough(rt *route, client *prefixConn, sni string) {
	start := time.Now()
	defer client.Close()
	defer dp.metrics.connection(rt)()
	entry := rt.baseEntry(start, client.RemoteAddr().String())
	entry.ServerNameIndication, entry.Protocol, entry.DefaultRule = sni, "TCP", true
	if len(rt.logs) > 0 {
		defer func() {
			entry.finish(start)
			rt.writeLog(&entry)
		}()
	}
	ft := rt.rules[len(rt.rules)-1].action.pick()
	if ft == nil {
		entry.FailureReason = "no target group with a positive weight"
		return
	}
	entry.TargetGroupARN = ft.tg.arn
	t := ft.tg.pick()
	if t == nil {
		entry.FailureReason = "target group has no targets"
		return
	}
	entry.TargetIPPort = t.hostPort
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	up, err := dp.dial(ctx, "tcp", t.hostPort)
	cancel()
	if err != nil {
		entry.FailureReason = err.Error()
		dp.log.V(1).Info("passthrough dial failed", "target", t.hostPort, "error", err.Error())
		return
	}
	defer up.Close()
	untrack := dp.track(client, up)
	defer untrack()
	deadline := start.Add(passthroughMaxLifetime)
	_ = client.SetDeadline(deadline)
	_ = up.SetDeadline(deadline)
	received := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(up, client)
		closeWrite(up)
		received <- n
	}()
	sent, _ := io.Copy(client, up)
	_ = client.CloseWrite()
	entry.BytesSent, entry.BytesReceived = sent, <-received
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
