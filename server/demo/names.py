"""Raw material for the demo brigade: Chinese name parts, Beilun's streets, roads and villages,
and the name patterns of each venue type.

Street names are the real sub-districts of 北仑区 (Beilun, Ningbo); roads, villages and zones are
real or real-sounding. Everything here is data: the generator draws from these tuples in order,
so editing a tuple changes the demo (by design) but never its determinism.
"""
from __future__ import annotations

# (surname, pinyin, weight). Weights lean to the surnames common in Ningbo (应、邬、俞、竺、虞、忻).
SURNAMES = (
    ("王", "wang", 10), ("陈", "chen", 10), ("张", "zhang", 8), ("李", "li", 8), ("周", "zhou", 6),
    ("林", "lin", 5), ("徐", "xu", 5), ("胡", "hu", 5), ("刘", "liu", 5), ("吴", "wu", 5),
    ("杨", "yang", 4), ("黄", "huang", 4), ("孙", "sun", 3), ("朱", "zhu", 3), ("郑", "zheng", 3),
    ("应", "ying", 3), ("赵", "zhao", 3), ("俞", "yu", 2), ("邬", "wu", 2), ("戴", "dai", 2),
    ("贺", "he", 2), ("史", "shi", 2), ("毛", "mao", 2), ("虞", "yu", 2), ("范", "fan", 2),
    ("董", "dong", 2), ("金", "jin", 2), ("方", "fang", 2), ("何", "he", 2), ("许", "xu", 2),
    ("沈", "shen", 2), ("蒋", "jiang", 2), ("叶", "ye", 2), ("马", "ma", 2), ("竺", "zhu", 1),
    ("乐", "le", 1), ("丁", "ding", 1), ("包", "bao", 1), ("汪", "wang", 1), ("罗", "luo", 1),
    ("袁", "yuan", 1), ("邵", "shao", 1), ("顾", "gu", 1), ("谢", "xie", 1), ("曹", "cao", 1),
    ("忻", "xin", 1), ("邱", "qiu", 1), ("蔡", "cai", 1), ("夏", "xia", 1), ("柴", "chai", 1),
)

# Given-name characters with pinyin (for usernames), by the name's usual gender.
GIVEN_MALE = (
    ("建", "jian"), ("国", "guo"), ("伟", "wei"), ("军", "jun"), ("强", "qiang"), ("明", "ming"),
    ("华", "hua"), ("平", "ping"), ("海", "hai"), ("杰", "jie"), ("斌", "bin"), ("波", "bo"),
    ("峰", "feng"), ("勇", "yong"), ("涛", "tao"), ("志", "zhi"), ("刚", "gang"), ("磊", "lei"),
    ("超", "chao"), ("鹏", "peng"), ("浩", "hao"), ("宇", "yu"), ("辉", "hui"), ("健", "jian"),
    ("文", "wen"), ("成", "cheng"), ("东", "dong"), ("飞", "fei"), ("龙", "long"), ("祥", "xiang"),
    ("荣", "rong"), ("忠", "zhong"), ("德", "de"), ("良", "liang"), ("民", "min"), ("庆", "qing"),
    ("春", "chun"), ("永", "yong"), ("新", "xin"), ("立", "li"), ("俊", "jun"), ("晓", "xiao"),
    ("凯", "kai"), ("亮", "liang"), ("昌", "chang"), ("根", "gen"), ("富", "fu"), ("宏", "hong"),
)
GIVEN_FEMALE = (
    ("丽", "li"), ("芳", "fang"), ("娟", "juan"), ("敏", "min"), ("静", "jing"), ("燕", "yan"),
    ("霞", "xia"), ("红", "hong"), ("萍", "ping"), ("玲", "ling"), ("琴", "qin"), ("英", "ying"),
    ("梅", "mei"), ("莉", "li"), ("婷", "ting"), ("雪", "xue"), ("慧", "hui"), ("佳", "jia"),
    ("颖", "ying"), ("琳", "lin"), ("秀", "xiu"), ("兰", "lan"), ("凤", "feng"), ("艳", "yan"),
    ("洁", "jie"), ("蓉", "rong"), ("倩", "qian"), ("珍", "zhen"), ("月", "yue"), ("微", "wei"),
)
# "阿强五金店": the familiar 阿 + one character that small shops are named after.
NICKNAMES = ("强", "明", "福", "华", "根", "国", "芳", "英", "平", "龙", "峰", "忠", "海", "庆")

DISTRICT = {"code": "BL", "name": "北仑区"}
# Beilun's mobile numbers: 13x/15x/18x prefixes (no 154).
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                   "152", "153", "155", "156", "157", "158", "159", "180", "181", "183", "186",
                   "187", "188", "189")

# The nine streets (街道) of 北仑区. Per street: code, name, short name, grid count, venue weight,
# GPS centre (lat, lng), roads, villages/communities (group rentals), compounds (high-rises and
# flats), industrial zones (flammable and chemical units), and multipliers on the type mix.
STREETS = (
    {
        "code": "XQ", "name": "新碶街道", "short": "新碶", "grids": 8, "weight": 24,
        "centre": (29.905, 121.845),
        "roads": ("明州路", "长江路", "庐山路", "太河路", "华山路", "黄山路", "岷山路", "泰山路",
                  "恒山路", "淮河路", "中河路", "新大路", "四明山路", "嵩山路", "衡山路"),
        "villages": ("算山村", "星阳村", "东岗村", "新大村", "河头村", "高河塘村"),
        "compounds": ("长江花园", "明州新村", "太河家园", "华山小区", "凤凰城", "嵩山花苑"),
        "zones": ("北仑港综合物流园", "新碶工业区"),
        "mix": {"high_rise": 2.6, "entertainment": 2.0, "group_rental": 0.7, "hazardous_chemical": 0.15,
                "flammable": 0.6},
    },
    {
        "code": "XG", "name": "小港街道", "short": "小港", "grids": 6, "weight": 12,
        "centre": (29.935, 121.78),
        "roads": ("红联路", "枫林路", "渡口路", "江南东路", "小浃江路", "纬一路", "经三路", "衙前路"),
        "villages": ("红联村", "下邵村", "衙前村", "渡口村", "小山村", "陈山村"),
        "compounds": ("小港新村", "红联家园", "枫林苑"),
        "zones": ("小港装备园区", "小港临港工业区", "江南化工区"),
        "mix": {"hazardous_chemical": 2.2, "flammable": 1.5, "group_rental": 1.2},
    },
    {
        "code": "DQ", "name": "大碶街道", "short": "大碶", "grids": 7, "weight": 18,
        "centre": (29.875, 121.78),
        "roads": ("灵峰路", "大碶路", "九峰山路", "庙前山路", "横河路", "沿山河北路", "通途路",
                  "坝头路", "湖塘路"),
        "villages": ("横河村", "共同村", "九峰村", "灵峰村", "邬隘村", "湖塘村", "璎珞村", "坝头村"),
        "compounds": ("灵峰花园", "大碶新城", "九峰家园", "横河新村"),
        "zones": ("大碶模具园区", "大碶高端装备产业园"),
        "mix": {"group_rental": 1.4, "other": 1.3},
    },
    {
        "code": "XP", "name": "霞浦街道", "short": "霞浦", "grids": 5, "weight": 10,
        "centre": (29.905, 121.905),
        "roads": ("霞浦路", "新浦路", "松花江路", "钱塘江路", "沙湾路", "三山北路", "黄河路"),
        "villages": ("霞南村", "下三山村", "沙湾村", "新浦村", "四合村"),
        "compounds": ("霞浦新苑", "钱塘江花园", "四合家园"),
        "zones": ("霞浦临港工业区", "霞浦化工园区"),
        "mix": {"hazardous_chemical": 2.0, "flammable": 1.4, "group_rental": 1.1},
    },
    {
        "code": "CQ", "name": "柴桥街道", "short": "柴桥", "grids": 6, "weight": 11,
        "centre": (29.87, 121.945),
        "roads": ("紫石路", "柴桥路", "芦江路", "穿山路", "后所路", "河头路", "沙溪路", "瑞岩路"),
        "villages": ("紫石村", "后所村", "河头村", "沙溪村", "穿山村", "芦江村", "瑞岩寺村"),
        "compounds": ("芦江花园", "紫石新村", "柴桥家园"),
        "zones": ("穿山港区", "柴桥工业区"),
        "mix": {"group_rental": 1.2, "flammable": 1.3},
    },
    {
        "code": "QJS", "name": "戚家山街道", "short": "戚家山", "grids": 4, "weight": 6,
        "centre": (29.932, 121.82),
        "roads": ("戚家山路", "青峙路", "浃江路", "檀山路", "东海路"),
        "villages": ("青峙村", "下浃村", "檀山村", "联合村"),
        "compounds": ("戚家山小区", "青峙新村"),
        "zones": ("青峙化工区", "戚家山工业区"),
        "mix": {"hazardous_chemical": 3.0, "flammable": 1.8, "high_rise": 0.5},
    },
    {
        "code": "CX", "name": "春晓街道", "short": "春晓", "grids": 5, "weight": 8,
        "centre": (29.848, 121.985),
        "roads": ("春晓大道", "昆亭路", "洋沙山路", "慈岙路", "三山路", "滨海路"),
        "villages": ("昆亭村", "慈岙村", "三山村", "洋沙山村", "上洋村"),
        "compounds": ("春晓家园", "滨海新城", "慈岙新村"),
        "zones": ("春晓工业园区", "滨海创业园"),
        "mix": {"high_rise": 0.6, "entertainment": 0.6},
    },
    {
        "code": "MS", "name": "梅山街道", "short": "梅山", "grids": 4, "weight": 6,
        "centre": (29.838, 122.015),
        "roads": ("梅山大道", "七星路", "盐场路", "梅港路", "保税港路"),
        "villages": ("梅东村", "梅中村", "梅西村", "梅港村", "礁港村"),
        "compounds": ("梅山新村", "七星花园"),
        "zones": ("梅山保税港区", "梅山物流园区"),
        "mix": {"high_rise": 0.5, "entertainment": 0.5, "other": 1.4},
    },
    {
        "code": "BF", "name": "白峰街道", "short": "白峰", "grids": 4, "weight": 7,
        "centre": (29.895, 122.03),
        "roads": ("白峰路", "郭巨路", "阳东路", "上阳路", "峙头路", "小门路"),
        "villages": ("上阳村", "阳东村", "峙南村", "郭巨村", "小门村", "勤山村"),
        "compounds": ("白峰新村", "郭巨家园"),
        "zones": ("白峰港区", "郭巨工业区"),
        "mix": {"high_rise": 0.4, "entertainment": 0.5, "flammable": 1.3},
    },
)

GRID_NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")

# Base type mix (per 100 venues) before a street's multipliers: 店面房 and 群租房 dominate.
TYPE_WEIGHTS = {
    "storefront": 38, "group_rental": 30, "high_rise": 7, "entertainment": 5, "flammable": 5,
    "hazardous_chemical": 4, "other": 11,
}

# Two-character trade names for companies, KTVs, buildings: first + second.
BRAND_FIRST = ("金", "恒", "海", "宏", "华", "鑫", "润", "宝", "远", "中", "东", "甬", "港", "泰",
               "新", "瑞", "和", "信", "联", "浩", "天", "永", "富", "兴", "盛", "明", "凯", "嘉")
BRAND_SECOND = ("海", "达", "泰", "源", "丰", "盛", "宇", "诚", "昌", "信", "通", "禾", "邦", "利",
                "港", "晟", "辉", "鼎", "安", "隆", "顺", "发", "远", "航")

# 店面房 / 三小场所: small shops, small eateries, small workshops.
SHOP_TRADES = ("小吃店", "五金店", "面馆", "早餐店", "水果店", "理发店", "便利店", "超市",
               "电动车维修店", "汽车修理部", "快餐店", "烟酒店", "服装店", "手机维修店", "包子铺",
               "家电维修部", "杂货店", "副食品店", "洗衣店", "粮油店", "建材店", "饭店", "棋牌室",
               "打印店", "花店", "蛋糕店", "烧烤店", "麻辣烫", "服装加工作坊", "木器加工坊",
               "五金加工作坊", "废品收购站", "轮胎店", "药店")
SHOP_CHAINS = ("沙县小吃", "兰州拉面", "重庆小面", "安徽板面", "黄焖鸡米饭", "杭州小笼包",
               "宁波汤圆店", "温州馄饨", "桂林米粉", "东北饺子馆")
SHOP_WORDS = ("兴旺", "好又多", "顺心", "万家", "福满", "红红", "鑫鑫", "老地方", "聚福", "如意",
              "百姓", "便民", "利民", "阳光", "平价")

HIGH_RISE_NAMES = ("银泰城", "港城中心", "明州大厦", "北仑商会大厦", "太河广场", "凤凰国际")
HIGH_RISE_KINDS = ("大厦", "国际中心", "商务楼", "广场", "金融中心")
TOWER_LETTERS = ("A", "B", "C", "D")

ENTERTAINMENT_WORDS = ("星光", "金海岸", "皇冠", "欢乐颂", "缤纷", "天籁", "纵横", "极速", "金色年华",
                       "梦幻", "好声音", "魅力", "星空", "大世界", "零点")
ENTERTAINMENT_KINDS = ("KTV", "量贩式KTV", "网吧", "网咖", "歌舞厅", "酒吧", "电子游艺厅", "音乐会所")

FLAMMABLE_PATTERNS = ("中国石化{place}加油站", "中国石油{place}加油站", "{place}加油站",
                      "北仑{place}液化气供应站", "{brand}油漆仓库", "宁波{brand}涂料有限公司仓库",
                      "{place}燃气充装站", "{brand}烟花爆竹批发仓库", "{place}加气站")
CHEMICAL_PATTERNS = ("宁波{brand}化工有限公司", "宁波{brand}石化仓储有限公司", "北仑{brand}化学品有限公司",
                     "宁波{brand}新材料有限公司", "宁波{brand}危险品物流有限公司", "宁波{brand}气体有限公司")
OTHER_PATTERNS = ("{brand}宾馆", "{place}幼儿园", "北仑区{place}养老院", "{place}居家养老服务中心",
                  "宁波{brand}机械有限公司厂房", "{brand}模具厂", "{place}农贸市场", "{brand}物流仓库",
                  "{place}卫生院", "{brand}酒店", "{brand}电器有限公司厂房", "{place}文化礼堂")
