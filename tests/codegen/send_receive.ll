; send_receive.ll: spawn a process, send it a message, receive its reply and
; check the tag and the payload at offset 16. Defines no snow_register_all,
; so libsnowrt_main's weak reference must resolve to null.
;
; Messages are [u64 tag][u64 value]; the runtime's tag is the first 8 bytes.
; The echo process gets its parent's pid as its 8 spawn-argument bytes,
; receives [42][1234] and replies [43][2468].
; Exit status 0 on success, else the number of the failed check.

; void echo(const uint8_t* args)
define void @echo(i8* %args) {
entry:
  %parent = call i64 @load_u64(i8* %args, i64 0)
  call void @snow_reduction_check()
  %m = call i8* @snow_actor_receive(i64 -1)
  %got = icmp ne i8* %m, null
  br i1 %got, label %reply, label %done
reply:
  %tag = call i64 @msg_tag(i8* %m)
  %data = call i8* @msg_data(i8* %m)
  %value = call i64 @load_u64(i8* %data, i64 8)
  %buf = alloca [2 x i64], align 8
  %b = bitcast [2 x i64]* %buf to i8*
  %tag1 = add i64 %tag, 1
  %value2 = mul i64 %value, 2
  call void @store_u64(i8* %b, i64 0, i64 %tag1)
  call void @store_u64(i8* %b, i64 8, i64 %value2)
  %rc = call i32 @snow_actor_send(i64 %parent, i8* %b, i64 16)
  br label %done
done:
  ret void
}

define void @snow_main() {
entry:
  %self = call i64 @snow_actor_self()
  %has_self = icmp ne i64 %self, 0
  call void @check(i1 %has_self, i32 1)

  ; spawn echo with [self] as arguments, normal priority
  %args = alloca i64, align 8
  store i64 %self, i64* %args, align 8
  %argp = bitcast i64* %args to i8*
  %pid = call i64 @snow_actor_spawn(i8* bitcast (void (i8*)* @echo to i8*), i8* %argp, i64 8, i8 zeroext 1)
  call void @snow_reduction_check()
  %spawned = icmp ne i64 %pid, 0
  call void @check(i1 %spawned, i32 2)
  %not_self = icmp ne i64 %pid, %self
  call void @check(i1 %not_self, i32 3)

  ; send [42][1234]
  %buf = alloca [2 x i64], align 8
  %b = bitcast [2 x i64]* %buf to i8*
  call void @store_u64(i8* %b, i64 0, i64 42)
  call void @store_u64(i8* %b, i64 8, i64 1234)
  %src = call i32 @snow_actor_send(i64 %pid, i8* %b, i64 16)
  %sent = icmp eq i32 %src, 0
  call void @check(i1 %sent, i32 4)

  ; the reply: a user message [43][2468]
  %m = call i8* @receive_or_fail(i64 5000, i32 5)
  %kind = call i32 @snow_msg_kind(i8* %m)
  %is_user = icmp eq i32 %kind, 0
  call void @check(i1 %is_user, i32 6)
  %tag = call i64 @msg_tag(i8* %m)
  %tag_ok = icmp eq i64 %tag, 43
  call void @check(i1 %tag_ok, i32 7)
  %len = call i64 @msg_len(i8* %m)
  %len_ok = icmp eq i64 %len, 16
  call void @check(i1 %len_ok, i32 8)
  %data = call i8* @msg_data(i8* %m)
  %first = call i64 @load_u64(i8* %data, i64 0)
  %first_ok = icmp eq i64 %first, 43
  call void @check(i1 %first_ok, i32 9)
  %value0 = call i64 @load_u64(i8* %m, i64 24)
  %value1 = call i64 @load_u64(i8* %data, i64 8)
  %value_ok = icmp eq i64 %value1, 2468
  call void @check(i1 %value_ok, i32 10)
  %same = icmp eq i64 %value0, %value1
  call void @check(i1 %same, i32 11)

  ; a short message: tag is the first min(len, 8) bytes, zero-padded
  %short = alloca [3 x i8], align 1
  %s = getelementptr [3 x i8], [3 x i8]* %short, i64 0, i64 0
  store i8 1, i8* %s
  %s1 = getelementptr [3 x i8], [3 x i8]* %short, i64 0, i64 1
  store i8 2, i8* %s1
  %s2 = getelementptr [3 x i8], [3 x i8]* %short, i64 0, i64 2
  store i8 3, i8* %s2
  %src2 = call i32 @snow_actor_send(i64 %self, i8* %s, i64 3)
  %sent2 = icmp eq i32 %src2, 0
  call void @check(i1 %sent2, i32 12)
  %m2 = call i8* @receive_or_fail(i64 5000, i32 13)
  %tag2 = call i64 @msg_tag(i8* %m2)
  %tag2_ok = icmp eq i64 %tag2, 197121 ; 0x030201
  call void @check(i1 %tag2_ok, i32 14)
  %len2 = call i64 @msg_len(i8* %m2)
  %len2_ok = icmp eq i64 %len2, 3
  call void @check(i1 %len2_ok, i32 15)
  %d2 = call i8* @msg_data(i8* %m2)
  %byte2 = call i8 @load_u8(i8* %d2, i64 2)
  %byte2_ok = icmp eq i8 %byte2, 3
  call void @check(i1 %byte2_ok, i32 16)

  ; the mailbox is empty now: a poll returns null
  %none = call i8* @snow_actor_receive(i64 0)
  %empty = icmp eq i8* %none, null
  call void @check(i1 %empty, i32 17)
  ret void
}
