/* hello_main.c: a program shaped like a compiler's output, linked with
 * snowrt::main (libsnowrt_main.a provides main()). */
#include <snowrt.h>

#include <stdio.h>

void snow_main(void);
void snow_main(void) { printf("consumer: snow_main ran\n"); }
