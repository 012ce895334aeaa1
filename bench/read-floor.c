// The floor of the in-flight guard's work on a big cache: list one directory, then on N threads either
// fstatat every file (mode 0), or open, read 8 KB and close each (mode 1), or the same with an fstat (mode 2),
// in the order the directory lists them, or with a fourth argument `sorted` in name order (a metadata file's
// name is a digest: the order of the in-flight index's table), or with `inode` in the order of the files' inode
// numbers (the guard's reads on a disk). With `behind` (modes 1 and 2), the N threads read while one more lists,
// each file as soon as it is listed (the guard's reads on a cache filled minutes ago).
//   cc -O2 -pthread -o /tmp/read-floor bench/read-floor.c && /tmp/read-floor <home>/cache/manifests 1 1 [sorted|inode|behind]
// `perf stat -e task-clock` around it gives the CPU the pass costs.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
static char **names; static unsigned long *inodes; static int n, dfd, mode; static volatile int next, listed, listingDone;
static int byName(const void *a, const void *b){ return strcmp(*(char *const *)a, *(char *const *)b); }
static int byInode(const void *a, const void *b){ unsigned long x=*(const unsigned long *)a, y=*(const unsigned long *)b; return x<y?-1:x>y; }
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
static void list(int handOver){ DIR*d=fdopendir(dup(dfd)); struct dirent*e;
  while((e=readdir(d))) if(e->d_name[0]!='.'){ inodes[n]=e->d_ino; names[n++]=strdup(e->d_name); if(handOver && (n&63)==0) __atomic_store_n(&listed,n,__ATOMIC_RELEASE); }
  __atomic_store_n(&listed,n,__ATOMIC_RELEASE); __atomic_store_n(&listingDone,1,__ATOMIC_RELEASE); closedir(d); }
static void *lister(void *a){ list(1); return 0; }
static void *work(void *a){ char buf[8192]; struct stat st; long sum=0;
  for(;;){ int i=__sync_fetch_and_add(&next,64);
    for(;;){ int done=__atomic_load_n(&listingDone,__ATOMIC_ACQUIRE), got=__atomic_load_n(&listed,__ATOMIC_ACQUIRE);
      if(i+64<=got || (done && i<got)) break;
      if(done) return (void*)sum;
      sched_yield(); }
    int e=i+64>listed?listed:i+64;
    for(;i<e;i++){ if(mode==0){ fstatat(dfd,names[i],&st,AT_SYMLINK_NOFOLLOW); sum+=st.st_ctime;}
      else { int fd=openat(dfd,names[i],O_RDONLY|O_NOFOLLOW|O_CLOEXEC); if(mode==2) fstat(fd,&st); sum+=pread(fd,buf,sizeof buf,0); close(fd);} } }
}
int main(int c,char**v){ dfd=open(v[1],O_RDONLY|O_DIRECTORY); int th=atoi(v[2]); mode=atoi(v[3]);
  int sorted=c>4 && !strcmp(v[4],"sorted"), byIno=c>4 && !strcmp(v[4],"inode"), behind=c>4 && !strcmp(v[4],"behind");
  names=malloc(sizeof(char*)*2000000); inodes=malloc(sizeof(unsigned long)*2000000); pthread_t l, p[8];
  double t0=now();
  if(behind) pthread_create(&l,0,lister,0); else list(0);
  if(sorted) qsort(names,n,sizeof *names,byName);
  if(byIno){ unsigned long *pairs=malloc(2*sizeof(unsigned long)*n);  /* (inode, name) pairs, sorted by inode */
    for(int i=0;i<n;i++){ pairs[2*i]=inodes[i]; pairs[2*i+1]=(unsigned long)names[i]; }
    qsort(pairs,n,2*sizeof(unsigned long),byInode);
    for(int i=0;i<n;i++) names[i]=(char*)pairs[2*i+1];
    free(pairs); }
  double t1=now(); for(int i=0;i<th;i++)pthread_create(&p[i],0,work,0); for(int i=0;i<th;i++)pthread_join(p[i],0);
  if(behind){ pthread_join(l,0); printf("mode %d threads %d, behind the listing: listed and read in %.0f ms (%d files)\n",mode,th,now()-t0,n); return 0; }
  printf("mode %d threads %d%s%s: list %.0f ms, per-file pass %.0f ms (%d files)\n",mode,th,sorted?", sorted":"",byIno?", inode order":"",t1-t0,now()-t1,n); }
