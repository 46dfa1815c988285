# Grouped bars for make bench-guest (tests/integration/bench-guest.sh), in
# the shape of the Xen paper's relative-performance figure: a group per
# block size and operation (or direction), a bar per device path and VMM.
#   gnuplot -e "datafile='D'; outfile='O.png'; ttl='T'; ylab='Y'; logy=1; ncols=N" bench-plot.gp
# The data file: a header row of quoted names ("group" then one per
# series), then a row per group: its quoted label and a value per series,
# "-" where there is none. ncols counts the header's names.
if (!exists("logy")) logy = 0
ngroups = system(sprintf("awk 'END { print NR - 1 }' '%s'", datafile)) + 0
per = (ncols - 1) * 24
if (per < 130) per = 130
w = 440 + ngroups * per
if (w > 3600) w = 3600
set terminal pngcairo size w, 560 font "sans,10" noenhanced
set output outfile
set title ttl
set ylabel ylab
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border rgb "#404040"
set boxwidth 0.95
set key outside right top vertical Left reverse noenhanced
# sixteen distinct colours before they repeat
array pal[16] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", \
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", \
	"#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#393b79"]
do for [i=1:16] { set linetype i lc rgb pal[i] }
set linetype cycle 16
set grid ytics
set xtics nomirror
set ytics nomirror
set border 3
if (logy) {
	set logscale y
	set format y "%g"
} else {
	set yrange [0:*]
	# 1 = QEMU-KVM's figure
	set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "#000000"
}
plot for [i=2:ncols] datafile using i:xtic(1) title columnheader(i)
