/* r16 decode matvecs of two builds of native/quant_r16.c in one process, interleaved round by round (order reversed
 * every other round): a qwen3-1b-shaped decode token (16 layers of q, k, v, o, gate, up, down, optionally the
 * 32000 × 1024 q6_k head; q4_0 113 MB, q8_0 214 MB — larger than L3, so the weights stream from DRAM as in decode)
 * or one matrix many times over (`hot`: it stays in L2, the kernel's own rate). Products go through
 * zy_quant_matmul, qkv and gate/up as one zy_quant_matmul_multi dispatch each, as native/decode_layer.c issues them.
 * Prints the median process CPU ms per token of each build (the steadier figure on a shared machine; at 2 threads
 * the pool's waits count too), their ratio, GB/s over CPU time, and whether every output is bit-identical.
 * Leaves out: attention, norms, the JS of a step (dev/perf/tune-ab.mts and `zhiyu bench infer` time whole steps).
 * Build (OLD_R16 = the quant_r16.c to compare against, e.g. `git show main:native/quant_r16.c > /tmp/old_r16.c`):
 *   N=native; F="-O3 -std=gnu11 -fno-strict-aliasing -I$N"; D=/tmp/r16ab; mkdir -p $D
 *   gcc $F -Dzy_r16_rows=zy_r16_rows_old -Dzy_repack_r16=zy_repack_r16_old -Dzy_qtype_is_r16=zy_qtype_is_r16_old \
 *     -c /tmp/old_r16.c -o $D/old_r16.o
 *   gcc $F -Dzy_r16_rows=zy_r16_rows_new -c $N/quant_r16.c -o $D/new_r16.o
 *   gcc $F -Dzy_r16_rows=zy_r16_rows_sel -c $N/quant.c -o $D/quant.o
 *   for f in quant_avx512 quant_avx2 zy_tune zy_pool zy_cpu gemm gemm_avx2 gemm_avx512 gemm_f16w gemm_packed; do
 *     gcc $F -c $N/$f.c -o $D/$f.o; done
 *   gcc $F dev/perf/r16-decode-ab.c $D/?*.o -lpthread -lm -o $D/ab
 * usage: /tmp/r16ab/ab THREADS ROUNDS q4_0|q8_0 [head | hot ROWS COLS] */
#include "quant_impl.h"
#include "zy_pool.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* quant.c compiled with zy_r16_rows renamed calls this, which runs the build the current arm names. */
static int zy_use_new = 1;
void zy_r16_rows_old(const uint8_t *w, int type, int64_t cols, const zy_qact *act, int64_t m, float *out,
                     int64_t out_rows, int64_t begin, int64_t end, const zy_knobs *knobs);
void zy_r16_rows_new(const uint8_t *w, int type, int64_t cols, const zy_qact *act, int64_t m, float *out,
                     int64_t out_rows, int64_t begin, int64_t end, const zy_knobs *knobs);
void zy_r16_rows_sel(const uint8_t *w, int type, int64_t cols, const zy_qact *act, int64_t m, float *out,
                     int64_t out_rows, int64_t begin, int64_t end, const zy_knobs *knobs) {
  (zy_use_new ? zy_r16_rows_new : zy_r16_rows_old)(w, type, cols, act, m, out, out_rows, begin, end, knobs);
}
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static uint32_t s=1; static float rnd(void){s=s*1103515245+12345;return (s>>8)/16777216.0f-0.5f;}
typedef struct {uint8_t*w;int type;int64_t rows,cols;} mat;
static mat make(int type,int64_t rows,int64_t cols){
  mat m={0,type,rows,cols}; int64_t nb=cols/zy_qtype_block_elems(type); size_t bytes=rows*nb*zy_qtype_block_bytes(type);
  m.w=aligned_alloc(64,(bytes+63)&~63);
  if(type==ZY_QT_Q6_K||type==ZY_QT_Q4_K){ for(size_t i=0;i<bytes;i++){s=s*1103515245+12345;m.w[i]=s>>16;}
    int bb=zy_qtype_block_bytes(type); for(int64_t b=0;b<rows*nb;b++){uint8_t*p=m.w+b*bb; if(type==ZY_QT_Q6_K){p[208]=0x00;p[209]=0x1c;} else {p[0]=0;p[1]=0x1c;p[2]=0;p[3]=0x1c;}}
  } else { float*x=malloc(cols*4); for(int64_t r=0;r<rows;r++){for(int64_t c=0;c<cols;c++)x[c]=rnd(); zy_quantize(x,type,m.w+r*nb*zy_qtype_block_bytes(type),cols);} free(x);}
  m.type=zy_repack_r16(m.w,type,rows,cols); if(m.type<0){fprintf(stderr,"repack fail\n");exit(1);} return m;}
static int cmpd(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
static double med(double*a,int n){qsort(a,n,8,cmpd);return a[n/2];}
#define NM 200
static mat M[NM]; static int nm=0; static float *outs[2][NM];
static float x[8192];
static void token(void){ for(int i=0;i<nm;i++) zy_quant_matmul(M[i].w,M[i].type,M[i].rows,M[i].cols,x,outs[zy_use_new][i],1); }
int main(int argc,char**argv){
  int threads=atoi(argv[1]), rounds=atoi(argv[2]); int lt=zy_qtype_from_name(argv[3]); int hot=argc>4&&!strcmp(argv[4],"hot");
  int withhead = argc>4 && !strcmp(argv[4],"head");
  zy_set_threads(threads); for(int i=0;i<8192;i++)x[i]=rnd();
  double bytes=0;
  if(hot){ int64_t R=atoll(argv[5]),C=atoll(argv[6]); M[nm++]=make(lt,R,C); }
  else { for(int l=0;l<16;l++){ M[nm++]=make(lt,1024,1024);M[nm++]=make(lt,512,1024);M[nm++]=make(lt,512,1024);M[nm++]=make(lt,1024,1024);M[nm++]=make(lt,3072,1024);M[nm++]=make(lt,3072,1024);M[nm++]=make(lt,1024,3072);} if(withhead) M[nm++]=make(ZY_QT_Q6_K,32000,1024);}
  for(int i=0;i<nm;i++){ bytes+=(double)M[i].rows*M[i].cols/zy_qtype_block_elems(M[i].type==ZY_QT_Q6_K_R16?ZY_QT_Q6_K:lt)*zy_qtype_block_bytes(M[i].type==ZY_QT_Q6_K_R16?ZY_QT_Q6_K:lt); outs[0][i]=malloc(4*M[i].rows); outs[1][i]=malloc(4*M[i].rows);}
  int reps=hot?200:1;
  double tc[2][1000], tw[2][1000];
  for(int r=0;r<rounds;r++) for(int k=0;k<2;k++){ int arm=(r&1)?1-k:k; zy_use_new=arm; double c0=cpu(),w0=now(); for(int i=0;i<reps;i++) token(); tc[arm][r]=(cpu()-c0)/reps*1e3; tw[arm][r]=(now()-w0)/reps*1e3; }
  float md=0; for(int i=0;i<nm;i++) for(int64_t j=0;j<M[i].rows;j++){ float d=outs[0][i][j]-outs[1][i][j]; if(d<0)d=-d; if(d>md||d!=d)md=d; }
  int same=1; for(int i=0;i<nm;i++) if(memcmp(outs[0][i],outs[1][i],4*M[i].rows)) same=0;
  double mo=med(tc[0],rounds), mn=med(tc[1],rounds), wo=med(tw[0],rounds), wn=med(tw[1],rounds);
  printf("%s %s threads=%d rounds=%d MB=%.1f | cpu ms old %.4f new %.4f old/new %.3f | wall ms old %.4f new %.4f old/new %.3f | new GB/s(cpu) %.1f old %.1f | bit-identical %s maxdiff %g\n",
    argv[3],hot?"hot":withhead?"token+head":"token",threads,rounds,bytes/1e6,mo,mn,mo/mn,wo,wn,wo/wn,bytes/mn/1e6*threads/threads,bytes/mo/1e6,same?"yes":"NO",md);
  return 0;}
